// Package backing gives the dev runner (make run) the Redis, MongoDB and S3
// it needs on one machine: the ones configured, or else embedded ones, so
// that a fresh checkout runs with no setup.
//
//   - Redis: REDIS_URL, else an in-process miniredis (pub/sub, Lua, TTLs
//     that run down with the wall clock as in Redis; no persistence).
//   - MongoDB: MONGODB_URI, else an in-process FerretDB on SQLite files in
//     the data dir (no transactions, non-atomic concurrent updates: the
//     platform relies on unique indexes only, see docs/data.md).
//   - S3: S3_ENDPOINT, else a MinIO server process from
//     $AGENTCHAT_CACHE/bin/minio (or minio in PATH) when one is installed
//     (make minio; tests/run.sh installs it too), else media is disabled.
//     MinIO is AGPL: it is run as a separate process, never linked.
//
// Tests use the services the test command starts (internal/testenv); they
// start the embedded ones here only to check that those behave like the
// real ones (internal/backing's tests, tests/e2e TestLoginLockoutEnds).
package backing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
)

// Config says which services exist already. Empty fields are filled by
// embedded services. The envconfig tags are the platform's variable names.
type Config struct {
	RedisURL    string `envconfig:"REDIS_URL"`
	MongoURI    string `envconfig:"MONGODB_URI"`
	S3Endpoint  string `envconfig:"S3_ENDPOINT"` // host:port
	S3AccessKey string `envconfig:"S3_ACCESS_KEY"`
	S3SecretKey string `envconfig:"S3_SECRET_KEY"`
	S3UseSSL    bool   `envconfig:"S3_USE_SSL"`

	// DataDir keeps the embedded services' data (FerretDB's SQLite files,
	// MinIO's objects and log) across runs. Empty: a temporary directory
	// that Close removes.
	DataDir string `envconfig:"AGENTCHAT_DATA_DIR"`
	// MinIOBinary is the MinIO server to start when S3Endpoint is empty.
	// Empty: $AGENTCHAT_CACHE/bin/minio (default cache ~/.cache/agentchat),
	// else minio in PATH.
	MinIOBinary string `envconfig:"MINIO_BINARY"`
	// NoS3 starts no S3 when S3Endpoint is empty: for a caller that runs
	// no media (the load generator).
	NoS3 bool `ignored:"true"`
	// Logger receives what was started and the embedded services' warnings;
	// nil means slog.Default().
	Logger *slog.Logger `ignored:"true"`
}

// S3 is an S3 endpoint and its credentials. A zero Endpoint means media is
// disabled.
type S3 struct {
	Endpoint  string // host:port
	AccessKey string
	SecretKey string
	UseSSL    bool
	// Console is MinIO's web console (http), when this package started it.
	Console string
}

// Enabled reports whether there is an S3 service to use.
func (s S3) Enabled() bool { return s.Endpoint != "" }

// Services are the backing services to connect to. Close stops the ones
// Start started; configured ones are left alone.
type Services struct {
	RedisURL string
	MongoURI string
	S3       S3
	// Embedded names what Start started itself, e.g. "redis (miniredis)".
	Embedded []string

	closers []func() error // in start order; Close runs them in reverse
}

// Start returns the services to use, starting an embedded one for each that
// cfg leaves empty. On error, whatever it had started is stopped again.
func Start(ctx context.Context, cfg Config) (_ *Services, err error) {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	s := &Services{RedisURL: cfg.RedisURL, MongoURI: cfg.MongoURI}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()

	dir := cfg.DataDir
	// dataDir makes the data dir when the first embedded service needs it.
	dataDir := func(sub string) (string, error) {
		if dir == "" {
			d, err := os.MkdirTemp("", "agentchat-backing-")
			if err != nil {
				return "", fmt.Errorf("backing: data dir: %w", err)
			}
			dir = d
			s.closers = append(s.closers, func() error { return os.RemoveAll(d) })
		}
		p := filepath.Join(dir, sub)
		if err := os.MkdirAll(p, 0o755); err != nil {
			return "", fmt.Errorf("backing: data dir: %w", err)
		}
		return p, nil
	}

	if s.RedisURL == "" {
		url, stop, err := startRedis()
		if err != nil {
			return nil, err
		}
		s.RedisURL, s.closers = url, append(s.closers, stop)
		s.Embedded = append(s.Embedded, "redis (miniredis)")
		log.Info("backing: started embedded redis (miniredis, in memory)", "url", url)
	}

	if s.MongoURI == "" {
		sub, err := dataDir("mongo")
		if err != nil {
			return nil, err
		}
		uri, stop, err := startMongo(sub, log)
		if err != nil {
			return nil, err
		}
		s.MongoURI, s.closers = uri, append(s.closers, stop)
		s.Embedded = append(s.Embedded, "mongodb (FerretDB on SQLite)")
		log.Info("backing: started embedded mongodb (FerretDB on SQLite)", "uri", uri, "dir", sub)
	}

	switch {
	case cfg.S3Endpoint != "":
		s.S3 = S3{Endpoint: cfg.S3Endpoint, AccessKey: cfg.S3AccessKey, SecretKey: cfg.S3SecretKey, UseSSL: cfg.S3UseSSL}
	case cfg.NoS3:
	default:
		bin := minioBinary(cfg.MinIOBinary)
		if bin == "" {
			log.Warn("backing: media disabled: no S3_ENDPOINT and no minio binary (make minio installs one)")
			break
		}
		sub, err := dataDir("minio")
		if err != nil {
			return nil, err
		}
		s3, stop, err := startMinIO(ctx, bin, sub)
		if err != nil {
			return nil, err
		}
		s.S3, s.closers = s3, append(s.closers, stop)
		s.Embedded = append(s.Embedded, "s3 (minio process)")
		log.Info("backing: started minio", "endpoint", s3.Endpoint, "console", "http://"+s3.Console, "dir", sub)
	}
	return s, nil
}

// Close stops every service Start started, last first, and removes a
// temporary data dir. It is safe to call more than once.
func (s *Services) Close() error {
	var errs []error
	for i := len(s.closers) - 1; i >= 0; i-- {
		errs = append(errs, s.closers[i]())
	}
	s.closers = nil
	return errors.Join(errs...)
}
