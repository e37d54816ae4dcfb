// Package function is agentchat's accounts function: sign-up and login,
// access and refresh tokens, devices and their public keys, agents, and
// conversations with their members — an HTTP API (docs/accounts.md) served
// by func's Go runtime (invoke: http) as an instanced function.
package function

import (
	"context"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/agentchat/agentchat/sdk/fn"
)

// Function is the instance func's runtime serves: New, then Start in the
// background while the server already answers; Ready gates traffic.
type Function struct {
	svc   atomic.Pointer[service]
	level slog.LevelVar // LOG_LEVEL, set by start
	log   *slog.Logger
}

// New returns an instance that answers 503 until Start has finished.
func New() *Function {
	f := &Function{}
	f.log = fn.NewLogger("accounts", &f.level)
	return f
}

// Start reads the configuration from func's config map (the environment),
// connects to MongoDB and Redis, ensures indexes and loads keys. An error
// ends the process, so that the platform restarts it.
func (f *Function) Start(ctx context.Context, cfg map[string]string) error {
	c, err := loadConfig(cfg)
	if err != nil {
		f.log.Error("accounts: start", "err", err)
		return err
	}
	return f.start(ctx, c)
}

// start opens a service for c and swaps it in (a second Start replaces the
// first: how tests restart with rotated keys).
func (f *Function) start(ctx context.Context, c Config) error {
	f.level.Set(c.LogLevel)
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	svc, err := open(ctx, c, f.log)
	if err != nil {
		f.log.Error("accounts: start", "err", err)
		return err
	}
	if old := f.svc.Swap(svc); old != nil {
		old.close(ctx)
	}
	f.log.Info("accounts: started", "database", c.MongoDatabase, "signingKey", svc.signer.JWKS().Keys[0].Kid)
	return nil
}

// Stop closes the connections.
func (f *Function) Stop(ctx context.Context) error {
	if svc := f.svc.Swap(nil); svc != nil {
		return svc.close(ctx)
	}
	return nil
}

// Ready reports whether Start has finished and MongoDB (and Redis, when
// configured) answer.
func (f *Function) Ready(ctx context.Context) (bool, error) {
	svc := f.svc.Load()
	if svc == nil {
		return false, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := svc.ping(ctx); err != nil {
		f.log.Warn("accounts: not ready", "err", err)
		return false, nil
	}
	return true, nil
}

// Alive is true while the process runs: a dependency outage makes accounts
// unready, not dead.
func (f *Function) Alive(context.Context) (bool, error) { return true, nil }

// Handle serves the API.
func (f *Function) Handle(w http.ResponseWriter, r *http.Request) {
	svc := f.svc.Load()
	if svc == nil {
		w.Header().Set("Retry-After", "1")
		writeProblem(w, &Problem{Status: http.StatusServiceUnavailable, Detail: "accounts is starting"})
		return
	}
	svc.ServeHTTP(w, r)
}
