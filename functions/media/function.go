// Package function is agentchat's media function. It answers a device's
// three media requests, each only for a member of the conversation:
//
//   - io.agentchat.media.upload.requested: a presigned PUT URL for the
//     object conversation/mediaId, bound to the declared size and SHA-256
//     of the encrypted blob, or for a blob over the multipart threshold
//     presigned UploadPart URLs (reply io.agentchat.media.upload.ready);
//   - io.agentchat.media.upload.completed: the device says its PUT is
//     done; media checks the object's size and the checksum S3 verified
//     (reply io.agentchat.media.stored);
//   - io.agentchat.media.download.requested: a short-lived presigned GET
//     URL (reply io.agentchat.media.download.ready).
//
// A refused request gets io.agentchat.media.rejected (a protocol error
// code and a reason), which route brings to the device as an error frame.
// Media is encrypted by the client before upload; the function sees only
// sizes, digests and ids, and no byte of media passes through it.
//
// It is an instanced func (knative.dev/func-go): New, Start, Stop, Ready,
// Alive and Handle.
package function

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/fn"
	"github.com/agentchat/agentchat/store"
	"github.com/agentchat/agentchat/store/directory"
)

// members is what media reads of the directory: store/directory's
// Reader.Members (Members returns store.ErrNotFound for a conversation
// that does not exist).
type members interface {
	Members(ctx context.Context, conversation string) (directory.Membership, error)
}

// deps are what Start opened; nil until then.
type deps struct {
	cfg    Config
	bucket *bucket
	dir    members
	db     *store.Mongo
}

// Function is one media instance. Its deps are set once Start has opened
// them and the bucket exists; until then Ready is false and Handle refuses
// events with a retryable status.
type Function struct {
	level  slog.LevelVar
	log    *slog.Logger
	handle fn.Handler

	mu     sync.Mutex // guards the fields below
	deps   *deps
	cancel context.CancelFunc // stops a Start still waiting for S3
}

// New is called once by the func runtime.
func New() *Function {
	f := &Function{}
	f.log = fn.NewLogger("media", &f.level)
	f.handle = fn.Logged(f.log, fn.Mux{
		events.TypeMediaUploadRequested:   f.upload,
		events.TypeMediaUploadCompleted:   f.complete,
		events.TypeMediaDownloadRequested: f.download,
	}.Handle)
	return f
}

// Start reads the configuration, opens the S3 client and the directory,
// and makes sure the bucket exists with the lifecycle rule that expires
// unconfirmed uploads (lifecycle.go). A bad configuration is fatal (func-go
// exits, the platform restarts us with the error in the log); an
// unreachable S3 is retried with backoff until it answers or Stop is
// called, and the function stays unready meanwhile. The directory is
// read afresh for each request (no cache): media requests are rare next
// to messages, and a member just removed is refused at once.
func (f *Function) Start(ctx context.Context, m map[string]string) error {
	c, err := loadConfig(m)
	if err != nil {
		return fmt.Errorf("media: config: %w", err)
	}
	b, err := newBucket(c)
	if err != nil {
		return fmt.Errorf("media: %w", err)
	}
	db, err := store.OpenMongo(c.MongoURI, c.Database, "media")
	if err != nil {
		return fmt.Errorf("media: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	f.level.Set(c.LogLevel)
	f.mu.Lock()
	f.cancel = cancel
	f.mu.Unlock()

	for delay := 100 * time.Millisecond; ; delay = min(2*delay, 5*time.Second) {
		err := b.ensure(ctx)
		if err == nil && c.PendingExpiryDays > 0 {
			err = b.ensureLifecycle(ctx, c.PendingExpiryDays)
		}
		if err == nil {
			break
		}
		f.log.Warn("media: waiting for s3", "endpoint", c.S3Endpoint, "err", err)
		select {
		case <-ctx.Done():
			_ = db.Close(context.WithoutCancel(ctx))
			return nil // stopped before S3 answered: nothing to report
		case <-time.After(delay):
		}
	}
	f.mu.Lock()
	f.deps = &deps{cfg: c, bucket: b, dir: directory.NewMongo(db), db: db}
	f.mu.Unlock()
	f.log.Info("media: started", "bucket", c.Bucket, "maxSize", c.MaxSize,
		"urlExpiry", c.URLExpiry.String(), "downloadExpiry", c.DownloadExpiry.String(),
		"multipartThreshold", c.MultipartThreshold, "partSize", c.PartSize, "pendingExpiryDays", c.PendingExpiryDays)
	return nil
}

// Stop ends a Start that is still waiting and closes the MongoDB client.
// The S3 client holds nothing that needs closing.
func (f *Function) Stop(ctx context.Context) error {
	f.mu.Lock()
	d := f.deps
	if f.cancel != nil {
		f.cancel()
	}
	f.deps = nil
	f.mu.Unlock()
	if d != nil {
		return d.db.Close(ctx)
	}
	return nil
}

// Ready is true once Start has finished and S3 still has the bucket and
// MongoDB answers.
func (f *Function) Ready(ctx context.Context) (bool, error) {
	d := f.current()
	if d == nil {
		return false, nil
	}
	if err := d.bucket.ping(ctx); err != nil {
		return false, fmt.Errorf("media: s3: %w", err)
	}
	if err := d.db.Ping(ctx); err != nil {
		return false, fmt.Errorf("media: %w", err)
	}
	return true, nil
}

// Alive is true while the process runs: nothing in media can wedge in a
// way a restart would fix.
func (f *Function) Alive(context.Context) (bool, error) { return true, nil }

// current returns the deps (nil before Start is done).
func (f *Function) current() *deps {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.deps
}
