# agentchat: two commands matter. `make run` runs the whole platform on this
# machine; `make test` installs and starts what the tests need and runs them
# all (see tests/README.md). The rest are pieces of those two.

CACHE ?= $(or $(AGENTCHAT_CACHE),$(HOME)/.cache/agentchat)
MINIO_VERSION := v0.0.0-20260212201848-7aac2a2c5b7c
# Every Go module of the repository: the root, sdk/, store/, functions/*/.
GO_MODULES := . $(patsubst %/go.mod,%,$(wildcard sdk/go.mod store/go.mod functions/*/go.mod))

.PHONY: run test unit e2e fuzz verify-deploy bench bench-connector bench-fanout bench-media bench-pipeline build minio jaeger

run: ## the platform on one machine (dev runner)
	go run ./cmd/agentchat

test: ## everything: vet, unit, fuzz, e2e with real services; one summary line
	bash tests/run.sh

unit: ## go vet + go test of every module, with the services
	bash tests/run.sh unit

e2e: ## the end-to-end tests in tests/, with the services (REPEAT=N: N runs in a row)
	bash tests/run.sh e2e

fuzz: ## every fuzz target for FUZZTIME (default 10s)
	bash tests/run.sh fuzz

verify-deploy: ## the deploy path as docs/deploy.md writes it: every function built by the func CLI (host builder) against a module proxy made from this checkout, both overlays applied to a real API server (tests/run.sh)
	bash tests/run.sh verify-deploy

bench: ## benchmarks of every module (services: export AGENTCHAT_TEST_*)
	@set -e; for m in $(GO_MODULES); do echo "== $$m"; (cd $$m && go test -run='^$$' -bench=. -benchmem ./...); done

bench-connector: ## idle sockets: N (19000) against one connector, then a bare gorilla server; then FLEET (100000) across CONNECTORS (6) connector processes on a private Redis, one message to each; IDLE (50s) is the CPU window (services: export AGENTCHAT_TEST_*)
	@out=$$(AGENTCHAT_BENCH_SOCKETS=$(or $(N),19000) AGENTCHAT_BENCH_FLEET=$(or $(FLEET),100000) \
		AGENTCHAT_BENCH_CONNECTORS=$(or $(CONNECTORS),6) AGENTCHAT_BENCH_IDLE=$(or $(IDLE),50s) \
		go test -count=1 -v -timeout 60m -run '^TestBenchConnector$$' ./connector/ 2>&1); status=$$?; \
	echo "$$out" | grep -E '^(connector|gorilla-bare|fleet): |^--- FAIL|^\s+\S+_test\.go:[0-9]+:'; exit $$status

bench-media: ## media through the platform's presigned URLs against MinIO's own PUT and GET in one run, MIB (16) per blob, uploads in parts of PART MiB when set (services: export AGENTCHAT_TEST_*); one line "media: ..." (docs/performance.md)
	@out=$$(AGENTCHAT_BENCH_MEDIA=$(or $(MIB),16) AGENTCHAT_BENCH_MEDIA_PART=$(PART) go test -count=1 -v -timeout 20m -run '^TestBenchMedia$$' ./tests/e2e/ 2>&1); status=$$?; \
	echo "$$out" | grep -E '^media: |^--- FAIL|^\s+\S+_test\.go:[0-9]+:'; exit $$status

bench-fanout: ## one 1,024-member group over 2 connectors, ONLINE (50) connected, RATE (10) messages/s (starts the services); ends with one line "fanout: ..." (docs/performance.md)
	@bash tests/bench.sh fanout -online $(or $(ONLINE),50) -rate $(or $(RATE),10)

bench-pipeline: ## the pipeline against its own storage in one run (starts the services); ends with one line "pipeline: ..." (docs/performance.md)
	@bash tests/bench.sh pipeline

build: ## compile every module; the commands into bin/
	@set -e; for m in $(GO_MODULES); do echo "== $$m"; (cd $$m && go build ./...); done
	go build -o bin/ ./cmd/...

minio: ## install the MinIO server the dev runner and the tests use (once, ~2 min)
	@test -x $(CACHE)/bin/minio || GOBIN=$(CACHE)/bin go install github.com/minio/minio@$(MINIO_VERSION)
	@echo "minio: $(CACHE)/bin/minio"

jaeger: ## build the Jaeger that go run ./cmd/agentchat -jaeger and the tests run (once, several minutes)
	@AGENTCHAT_CACHE=$(CACHE) bash tests/install-jaeger.sh
