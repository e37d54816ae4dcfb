package function

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/fn"
)

// Handle serves one event delivered over HTTP by a Trigger with
// HandleEvent (fn.Serve says why not through func-go's cloudevents
// runtime).
func (f *Function) Handle(w http.ResponseWriter, r *http.Request) { fn.Serve(w, r, f.HandleEvent) }

// HandleEvent answers one upload request with a presigned PUT URL (any other
// type is refused).
//
// Status codes are chosen for Knative's delivery: a request that can never
// succeed (malformed, too large, conflicting with an existing object) gets
// 400, which the broker does not retry and sends to the dead-letter sink;
// a failure of S3 or of this instance gets 5xx, which it retries.
//
// Handling is idempotent: the object key depends only on (conversation,
// mediaId) and the reply's id only on the request's id, so a redelivered
// request yields an equivalent reply (with a freshly signed URL).
func (f *Function) HandleEvent(ctx context.Context, e event.Event) (*event.Event, error) {
	return f.handle(ctx, e)
}

// upload is Handle for an upload request (the only type media takes).
func (f *Function) upload(ctx context.Context, e event.Event) (*event.Event, error) {
	st, cfg := f.current()
	log := f.log
	if st == nil {
		return nil, fn.Unavailable("media: %v", errNotStarted)
	}
	req, err := events.Decode[events.MediaUploadRequested](e)
	if err != nil {
		return nil, fn.Refuse("media: %v", err)
	}
	if req.Size > cfg.MaxSize {
		return nil, fn.Refuse("media: size %d over the %d byte limit", req.Size, cfg.MaxSize)
	}
	a, _ := fn.ActorOf(e)
	conv, sender, device := a.Conversation, a.User, a.Device
	key := objectKey(conv, req.MediaID)

	size, found, err := st.size(ctx, key)
	if err != nil {
		log.Error("media: stat failed", "event", e.ID(), "conversation", conv, "media", req.MediaID, "err", err)
		return nil, fmt.Errorf("media: %w", err)
	}
	if found && size != req.Size {
		return nil, fn.Refuse("media: media %s already stored with another size", req.MediaID)
	}
	expires := time.Now().Add(cfg.URLExpiry).UTC().Truncate(time.Second)
	u, err := st.presignPut(ctx, key, req.Size, cfg.URLExpiry)
	if err != nil {
		log.Error("media: presign failed", "event", e.ID(), "conversation", conv, "media", req.MediaID, "err", err)
		return nil, fmt.Errorf("media: %w", err)
	}
	reply, err := newMediaUploadReady(e.ID(), conv, sender, device, fn.Ext(e, events.ExtTraceParent),
		events.MediaUploadReady{MediaID: req.MediaID, UploadURL: u, ExpiresAt: expires})
	if err != nil {
		return nil, fmt.Errorf("media: reply: %w", err)
	}
	// The URL is a bearer capability: it is never logged.
	log.Info("media: upload ready", "event", e.ID(), "conversation", conv, "sender", sender,
		"media", req.MediaID, "size", req.Size, "existing", found)
	return &reply, nil
}
