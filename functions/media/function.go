// Package function is agentchat's media function: it answers
// io.agentchat.media.upload.requested with a presigned S3 PUT URL for
// the object conversation/mediaId, replying io.agentchat.media.upload.ready.
// Media is encrypted by the client before upload; the function only sees
// sizes, hashes and ids.
//
// It is an instanced func (knative.dev/func-go/cloudevents): New, Start,
// Stop, Ready, Alive and Handle.
package function

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/fn"
)

// Function is one media instance. Its store is set once Start has opened
// it and the bucket exists; until then Ready is false and Handle refuses
// events with a retryable status.
type Function struct {
	level  slog.LevelVar
	log    *slog.Logger
	handle fn.Handler

	mu     sync.Mutex // guards the fields below
	cfg    Config
	store  *store
	cancel context.CancelFunc // stops a Start still waiting for S3
}

// New is called once by the func runtime.
func New() *Function {
	f := &Function{}
	f.log = fn.NewLogger("media", &f.level)
	f.handle = fn.Logged(f.log, fn.Only(f.upload, events.TypeMediaUploadRequested))
	return f
}

// Start reads the configuration, opens the S3 client and makes sure the
// bucket exists. A bad configuration is fatal (func-go exits, the platform
// restarts us with the error in the log); an unreachable S3 is retried with
// backoff until it answers or Stop is called, and the function stays
// unready meanwhile.
func (f *Function) Start(ctx context.Context, m map[string]string) error {
	c, err := loadConfig(m)
	if err != nil {
		return fmt.Errorf("media: config: %w", err)
	}
	st, err := newStore(c)
	if err != nil {
		return fmt.Errorf("media: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	f.level.Set(c.LogLevel)
	f.mu.Lock()
	f.cancel = cancel
	f.mu.Unlock()
	log := f.log

	for delay := 100 * time.Millisecond; ; delay = min(2*delay, 5*time.Second) {
		err := st.ensureBucket(ctx)
		if err == nil {
			break
		}
		log.Warn("media: waiting for s3", "endpoint", c.S3Endpoint, "err", err)
		select {
		case <-ctx.Done():
			return nil // stopped before S3 answered: nothing to report
		case <-time.After(delay):
		}
	}
	f.mu.Lock()
	f.cfg, f.store = c, st
	f.mu.Unlock()
	log.Info("media: started", "bucket", c.Bucket, "maxSize", c.MaxSize, "urlExpiry", c.URLExpiry.String())
	return nil
}

// Stop ends a Start that is still waiting. The S3 client holds nothing that
// needs closing.
func (f *Function) Stop(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cancel != nil {
		f.cancel()
	}
	f.store = nil
	return nil
}

// Ready is true once Start has finished and S3 still has the bucket.
func (f *Function) Ready(ctx context.Context) (bool, error) {
	st, _ := f.current()
	if st == nil {
		return false, nil
	}
	if err := st.ping(ctx); err != nil {
		return false, fmt.Errorf("media: s3: %w", err)
	}
	return true, nil
}

// Alive is true while the process runs: nothing in media can wedge in a
// way a restart would fix.
func (f *Function) Alive(context.Context) (bool, error) { return true, nil }

// current returns the store (nil before Start is done) and config.
func (f *Function) current() (*store, Config) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.store, f.cfg
}
