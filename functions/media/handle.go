package function

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/fn"
	"github.com/agentchat/agentchat/sdk/protocol"
	"github.com/agentchat/agentchat/store"
)

// Handle serves one event delivered over HTTP by a Trigger with
// HandleEvent (fn.Serve says why not through func-go's cloudevents
// runtime).
func (f *Function) Handle(w http.ResponseWriter, r *http.Request) { fn.Serve(w, r, f.HandleEvent) }

// HandleEvent answers one media request (any other type is refused).
//
// Status codes are chosen for Knative's delivery: an event that can never
// be handled (malformed, of another type) gets 400, which the broker does
// not retry and sends to the dead-letter sink; a failure of S3, MongoDB or
// of this instance gets 5xx, which it retries. A request media refuses on
// its merits (not a member, too large, no such upload) is answered, with
// media.rejected, so that the device hears why.
//
// Handling is idempotent: the object key depends only on (conversation,
// mediaId) and each reply's id only on the request's id, so a redelivered
// request yields an equivalent reply (with freshly signed URLs).
func (f *Function) HandleEvent(ctx context.Context, e event.Event) (*event.Event, error) {
	return f.handle(ctx, e)
}

// open is the start of every request: its deps, its data (decoded, which
// validates the event) and its actor; or the error to return.
func open[T any](f *Function, e event.Event) (*deps, T, fn.Actor, error) {
	var zero T
	d := f.current()
	if d == nil {
		return nil, zero, fn.Actor{}, fn.Unavailable("media: %v", errNotStarted)
	}
	req, err := events.Decode[T](e)
	if err != nil {
		return nil, zero, fn.Actor{}, fn.Refuse("media: %v", err)
	}
	a, _ := fn.ActorOf(e) // Decode checked the extensions
	return d, req, a, nil
}

// member reports whether user is a member of conversation (false for a
// conversation that does not exist).
func member(ctx context.Context, d *deps, conversation, user string) (bool, error) {
	mb, err := d.dir.Members(ctx, conversation)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("media: members of %s: %w", conversation, err)
	}
	return slices.Contains(mb.Members, user), nil
}

// reject is the answer refusing request e about mediaID.
func (f *Function) reject(e event.Event, mediaID, code, reason string) (*event.Event, error) {
	a, _ := fn.ActorOf(e)
	f.log.Info("media: refused", "event", e.ID(), "type", e.Type(), "conversation", a.Conversation,
		"user", a.User, "media", mediaID, "code", code)
	r, err := events.NewMediaAnswer(events.TypeMediaRejected, e,
		events.MediaRejected{MediaID: mediaID, Request: e.Type(), Code: code, Reason: reason})
	if err != nil {
		return nil, fmt.Errorf("media: reply: %w", err)
	}
	return &r, nil
}

// answer is the reply of type typ with data to request e.
func answer(e event.Event, typ string, data any) (*event.Event, error) {
	r, err := events.NewMediaAnswer(typ, e, data)
	if err != nil {
		return nil, fmt.Errorf("media: reply: %w", err)
	}
	return &r, nil
}

const notMember = "you are not a member of this conversation"

// upload answers an upload request with a PUT URL bound to the declared
// size and digest (or, over the multipart threshold, part URLs bound to
// their sizes: multipart.go), after checking membership and the size
// limit. Either way the object is born tagged pending (lifecycle.go).
func (f *Function) upload(ctx context.Context, e event.Event) (*event.Event, error) {
	d, req, a, err := open[events.MediaUploadRequested](f, e)
	if err != nil {
		return nil, err
	}
	if ok, err := member(ctx, d, a.Conversation, a.User); err != nil || !ok {
		if err != nil {
			return nil, err
		}
		return f.reject(e, req.MediaID, protocol.CodeNotMember, notMember)
	}
	if req.Size > d.cfg.MaxSize {
		return f.reject(e, req.MediaID, protocol.CodeMediaTooLarge,
			fmt.Sprintf("the file is %d bytes encrypted; the limit is %d bytes", req.Size, d.cfg.MaxSize))
	}
	key := objectKey(a.Conversation, req.MediaID)
	have, found, err := d.bucket.stat(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("media: %w", err)
	}
	if found && (have.Size != req.Size || have.SHA256 != req.SHA256) {
		return f.reject(e, req.MediaID, protocol.CodeMediaMismatch, "this media id already holds another file: upload under a new id")
	}
	// The same bytes again (a retry, or any member who downloaded them):
	// the new object keeps the state the old one has, so that a confirmed
	// file cannot be put back within the reach of the expiry rule.
	state := tagPending
	if found {
		if s, err := d.bucket.state(ctx, key); err != nil {
			return nil, fmt.Errorf("media: %w", err)
		} else if s == tagStored {
			state = tagStored
		}
	}
	expires := time.Now().Add(d.cfg.URLExpiry).UTC().Truncate(time.Second)
	ready := events.MediaUploadReady{MediaID: req.MediaID, ExpiresAt: expires}
	if req.Size > d.cfg.MultipartThreshold {
		// In parts (multipart.go); a repeated request gets fresh URLs for
		// the same upload.
		id, err := d.bucket.startMultipart(ctx, key, req.SHA256, state)
		if err != nil {
			return nil, fmt.Errorf("media: %w", err)
		}
		if ready.Parts, err = d.bucket.presignParts(ctx, key, id, req.Size, partSize(req.Size, d.cfg.PartSize), d.cfg.URLExpiry); err != nil {
			return nil, fmt.Errorf("media: %w", err)
		}
	} else if ready.UploadURL, ready.Headers, err = d.bucket.presignPut(ctx, key, req.Size, req.SHA256, state, d.cfg.URLExpiry); err != nil {
		return nil, fmt.Errorf("media: %w", err)
	}
	// The URLs are bearer capabilities: they are never logged.
	f.log.Info("media: upload ready", "event", e.ID(), "conversation", a.Conversation, "user", a.User,
		"media", req.MediaID, "size", req.Size, "kind", req.Kind, "parts", len(ready.Parts), "existing", found)
	return answer(e, events.TypeMediaUploadReady, ready)
}

// complete checks a finished upload against the object S3 holds: there,
// of the size the device declared, with the checksum S3 verified as it
// took the bytes (for an upload in parts: first completed from exactly
// the declared parts, multipart.go). It never reads the object. A
// verified object is retagged stored, out of the reach of the lifecycle
// rule that expires unconfirmed uploads (lifecycle.go).
func (f *Function) complete(ctx context.Context, e event.Event) (*event.Event, error) {
	d, req, a, err := open[events.MediaStored](f, e)
	if err != nil {
		return nil, err
	}
	if ok, err := member(ctx, d, a.Conversation, a.User); err != nil || !ok {
		if err != nil {
			return nil, err
		}
		return f.reject(e, req.MediaID, protocol.CodeNotMember, notMember)
	}
	key := objectKey(a.Conversation, req.MediaID)
	have, found, err := d.bucket.stat(ctx, key)
	if err == nil && !found && len(req.Parts) > 0 {
		var done bool
		if done, err = d.bucket.completeMultipart(ctx, key, req.Size, req.Parts); err == nil && done {
			have, found, err = d.bucket.stat(ctx, key)
		}
	}
	want := ""
	if len(req.Parts) > 0 {
		if want, err = composite(req.Parts); err != nil { // Decode checked each digest
			return nil, fmt.Errorf("media: %w", err)
		}
	}
	switch {
	case err != nil:
		return nil, fmt.Errorf("media: %w", err)
	case !found:
		return f.reject(e, req.MediaID, protocol.CodeMediaMismatch,
			"no upload arrived for this media id (S3 refuses a body that is not the size and sha256 declared, or a URL that expired; "+
				"an upload in parts needs every part, with the digests declared): ask for a new upload URL")
	case have.Size != req.Size || have.SHA256 != req.SHA256 || have.Composite != want:
		// Not deleted: the object may be another member's upload under the
		// same id (ids are the devices' choice), which this request must
		// not be able to destroy. An object never confirmed expires.
		return f.reject(e, req.MediaID, protocol.CodeMediaMismatch,
			"the stored object is not the size and sha256 declared")
	}
	if err := d.bucket.markStored(ctx, key); err != nil {
		return nil, fmt.Errorf("media: %w", err)
	}
	f.log.Info("media: stored", "event", e.ID(), "conversation", a.Conversation, "user", a.User,
		"media", req.MediaID, "size", have.Size, "parts", len(req.Parts))
	return answer(e, events.TypeMediaStored, events.MediaStored{MediaID: req.MediaID, Size: have.Size, SHA256: have.SHA256})
}

// download answers a member with a short-lived GET URL for a stored blob.
func (f *Function) download(ctx context.Context, e event.Event) (*event.Event, error) {
	d, req, a, err := open[events.MediaDownloadRequested](f, e)
	if err != nil {
		return nil, err
	}
	if ok, err := member(ctx, d, a.Conversation, a.User); err != nil || !ok {
		if err != nil {
			return nil, err
		}
		return f.reject(e, req.MediaID, protocol.CodeNotMember, notMember)
	}
	key := objectKey(a.Conversation, req.MediaID)
	have, found, err := d.bucket.stat(ctx, key)
	switch {
	case err != nil:
		return nil, fmt.Errorf("media: %w", err)
	case !found || have.SHA256 == "":
		return f.reject(e, req.MediaID, protocol.CodeMediaNotFound, "no stored media with this id in this conversation")
	}
	expires := time.Now().Add(d.cfg.DownloadExpiry).UTC().Truncate(time.Second)
	u, err := d.bucket.presignGet(ctx, key, d.cfg.DownloadExpiry)
	if err != nil {
		return nil, fmt.Errorf("media: %w", err)
	}
	f.log.Info("media: download ready", "event", e.ID(), "conversation", a.Conversation, "user", a.User,
		"media", req.MediaID, "size", have.Size)
	return answer(e, events.TypeMediaDownloadReady, events.MediaDownloadReady{MediaID: req.MediaID,
		DownloadURL: u, ExpiresAt: expires, Size: have.Size, SHA256: have.SHA256})
}
