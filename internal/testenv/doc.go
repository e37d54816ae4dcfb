// Package testenv gives root-module tests the real backing services that the
// test command (make test, tests/run.sh) starts, each isolated per test: a
// unique Redis key prefix, a unique MongoDB database, a unique S3 bucket,
// all removed when the test ends. A test that needs a service, a program or
// a built binary it has not been given ends through Missing (or Env, Tool):
// skipped with a message naming what is missing, except under CI=true,
// where it is a failure: a green CI run must mean the tests ran.
//
// The variables, exported by tests/run.sh:
//
//	AGENTCHAT_TEST_REDIS_URL      redis://127.0.0.1:P/0
//	AGENTCHAT_TEST_MONGODB_URI    mongodb://127.0.0.1:P/ (FerretDB)
//	AGENTCHAT_TEST_S3_ENDPOINT    127.0.0.1:P (MinIO, plain HTTP)
//	AGENTCHAT_TEST_S3_ACCESS_KEY
//	AGENTCHAT_TEST_S3_SECRET_KEY
//
// It also holds the small helpers tests share: Eventually (poll instead of
// sleep) and FreePort.
package testenv
