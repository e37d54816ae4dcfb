package function

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
)

// Handle answers one upload request with a presigned PUT URL.
//
// Status codes are chosen for Knative's delivery: a request that can never
// succeed (malformed, too large, conflicting with an existing object) gets
// 400, which the broker does not retry and sends to the dead-letter sink;
// a failure of S3 or of this instance gets 5xx, which it retries.
//
// Handling is idempotent: the object key depends only on (conversation,
// mediaId) and the reply's id only on the request's id, so a redelivered
// request yields an equivalent reply (with a freshly signed URL).
func (f *Function) Handle(ctx context.Context, e event.Event) (*event.Event, error) {
	st, cfg, log := f.current()
	if st == nil {
		return nil, cehttp.NewResult(http.StatusServiceUnavailable, "media: %v", errNotStarted)
	}
	if e.Type() != events.TypeMediaUploadRequested {
		return nil, f.reject(log, e, fmt.Errorf("type %q, want %s", e.Type(), events.TypeMediaUploadRequested))
	}
	req, err := events.Decode[events.MediaUploadRequested](e)
	if err != nil {
		return nil, f.reject(log, e, err)
	}
	if req.Size > cfg.MaxSize {
		return nil, f.reject(log, e, fmt.Errorf("size %d over the %d byte limit", req.Size, cfg.MaxSize))
	}
	conv, sender, device := ext(e, events.ExtConversationID), ext(e, events.ExtSenderID), ext(e, events.ExtDeviceID)
	key := objectKey(conv, req.MediaID)

	size, found, err := st.size(ctx, key)
	if err != nil {
		log.Error("media: stat failed", "event", e.ID(), "conversation", conv, "media", req.MediaID, "err", err)
		return nil, fmt.Errorf("media: %w", err)
	}
	if found && size != req.Size {
		return nil, f.reject(log, e, fmt.Errorf("media %s already stored with another size", req.MediaID))
	}
	expires := time.Now().Add(cfg.URLExpiry).UTC().Truncate(time.Second)
	u, err := st.presignPut(ctx, key, req.Size, cfg.URLExpiry)
	if err != nil {
		log.Error("media: presign failed", "event", e.ID(), "conversation", conv, "media", req.MediaID, "err", err)
		return nil, fmt.Errorf("media: %w", err)
	}
	reply, err := newMediaUploadReady(e.ID(), conv, sender, device, ext(e, events.ExtTraceParent),
		events.MediaUploadReady{MediaID: req.MediaID, UploadURL: u, ExpiresAt: expires})
	if err != nil {
		return nil, fmt.Errorf("media: reply: %w", err)
	}
	// The URL is a bearer capability: it is never logged.
	log.Info("media: upload ready", "event", e.ID(), "conversation", conv, "sender", sender,
		"media", req.MediaID, "size", req.Size, "existing", found)
	return &reply, nil
}

// reject logs why e can never be handled and returns the non-retryable
// result for it. The reason names ids and sizes only, never content.
func (f *Function) reject(log *slog.Logger, e event.Event, reason error) error {
	log.Warn("media: rejected", "event", e.ID(), "type", e.Type(), "source", e.Source(), "reason", reason.Error())
	return cehttp.NewResult(http.StatusBadRequest, "media: %v", reason)
}

// ext reads a string extension attribute ("" when absent).
func ext(e event.Event, name string) string {
	s, _ := e.Extensions()[name].(string)
	return s
}
