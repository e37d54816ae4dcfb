package connector

import (
	"context"
	"errors"
	"strings"

	"github.com/cloudevents/sdk-go/v2/event"
	"go.opentelemetry.io/otel/trace"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/protocol"
)

// DefaultSyncLimit is the batch size of a sync frame without a limit.
const DefaultSyncLimit = 100

// handleFrame turns one client frame into an event posted to the sink (or
// answers it directly: ping, errors). It runs on the socket's reader, so a
// device's frames are posted in the order it sent them, and a slow sink
// slows only that device. It returns a close code when the socket must end.
func (s *Server) handleFrame(c *conn, data []byte) int {
	if !c.limiter.Allow() {
		s.m.framesIn.WithLabelValues("rate_limited").Inc()
		return c.rateLimited()
	}
	f, err := protocol.Decode(data)
	s.m.framesIn.WithLabelValues(frameLabel(f.Type)).Inc()
	if err != nil {
		var pe *protocol.Error
		if !errors.As(err, &pe) {
			pe = &protocol.Error{Code: protocol.CodeBadFrame, Message: "malformed frame"}
		}
		c.sendError(pe)
		return 0
	}
	if f.Type == protocol.TypePing {
		c.send(protocol.Frame{Type: protocol.TypePong, ID: f.ID})
		return 0
	}
	e, perr := s.eventFor(c, f)
	if perr != nil {
		c.sendError(perr)
		return 0
	}
	if wait := c.presenceWait(f); wait > 0 {
		// Each request costs route a read of the user's conversations.
		c.sendError(&protocol.Error{Code: protocol.CodeRateLimited, Message: "presence was asked for just now; changes are pushed",
			Ref: f.ID, RetryAfter: wait})
		return 0
	}
	if wait := s.userWait(c, f.Type); wait > 0 {
		// Refused before anything was posted: the client sends it again.
		s.userLimited(c, f, wait)
		return 0
	}
	if f.Type == protocol.TypeSend {
		// A resend (its stored may have been lost, or the client just
		// wants it again) gets its stored back, even if this socket had
		// one for it already: acks are idempotent too.
		s.dedupe.forget(storedKey(c, f.Conversation, f.ID))
	}
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.SinkTimeout)
	var span trace.Span // nil: tracing is off
	if s.tracer != nil {
		ctx, span = s.startFrameSpan(ctx, c, f, &e)
	}
	err = s.deps.Sink.Post(ctx, e)
	cancel()
	endSpan(span, err)
	if err != nil {
		s.m.eventsFailed.WithLabelValues(e.Type()).Inc()
		s.log.Warn("connector: post failed", "type", e.Type(), "id", e.ID(), "err", err)
		c.sendError(&protocol.Error{Code: protocol.CodeUnavailable, Message: "could not take the frame now; retry", Ref: f.ID})
		return 0
	}
	s.m.eventsPosted.WithLabelValues(e.Type()).Inc()
	return 0
}

// eventFor maps a decoded client frame to its event, stamped with the
// socket's authenticated user and device (Decode has already refused frames
// that name a sender).
func (s *Server) eventFor(c *conn, f protocol.Frame) (event.Event, *protocol.Error) {
	user, device := c.dev.User, c.dev.Device
	var (
		e   event.Event
		err error
	)
	switch f.Type {
	case protocol.TypeSend:
		if verr := f.Envelope.Validate(); verr != nil {
			return e, &protocol.Error{Code: protocol.CodeBadEnvelope, Message: verr.Error(), Ref: f.ID}
		}
		e, err = events.NewMessageSent(s.source, f.Conversation, user, device,
			events.MessageSent{ClientMessageID: f.ID, Envelope: f.Envelope})
	case protocol.TypeDelivered:
		e, err = events.NewReceipt(events.TypeReceiptDelivered, s.source, f.Conversation, user, device, f.Seq)
	case protocol.TypeRead:
		e, err = events.NewReceipt(events.TypeReceiptRead, s.source, f.Conversation, user, device, f.Seq)
	case protocol.TypeTyping:
		e, err = events.NewTyping(s.source, f.Conversation, user, device, f.State)
	case protocol.TypeSync:
		limit := f.Limit
		if limit == 0 {
			limit = DefaultSyncLimit
		}
		e, err = events.NewSyncRequested(s.source, f.Conversation, user, device,
			events.SyncRequested{After: f.After, Before: f.Before, Limit: limit, Receipts: f.Receipts, RequestID: f.ID})
	case protocol.TypeResume:
		req := events.ResumeRequested{From: f.From, Limit: f.Limit, Receipts: f.Receipts, RequestID: f.ID,
			Positions: make([]events.ResumePosition, len(f.Positions))}
		for i, p := range f.Positions {
			req.Positions[i] = events.ResumePosition{ConversationID: p.Conversation, Seq: p.Seq}
		}
		e, err = events.NewResumeRequested(s.source, user, device, req)
	case protocol.TypeUpload:
		e, err = events.NewMediaRequest(events.TypeMediaUploadRequested, s.source, f.Conversation, user, device,
			events.MediaUploadRequested{MediaID: f.ID, Size: f.Size, SHA256: f.SHA256, Kind: f.Kind})
	case protocol.TypeUploaded:
		d := events.MediaStored{MediaID: f.ID, Size: f.Size, SHA256: f.SHA256}
		for _, p := range f.Parts {
			d.Parts = append(d.Parts, p.SHA256)
		}
		e, err = events.NewMediaRequest(events.TypeMediaUploadCompleted, s.source, f.Conversation, user, device, d)
	case protocol.TypeDownload:
		e, err = events.NewMediaRequest(events.TypeMediaDownloadRequested, s.source, f.Conversation, user, device,
			events.MediaDownloadRequested{MediaID: f.ID})
	case protocol.TypePresence:
		e, err = events.NewPresenceRequested(s.source, user, device, f.ID)
	default:
		return e, &protocol.Error{Code: protocol.CodeUnknownType, Message: "unknown frame type " + f.Type}
	}
	if err != nil {
		return e, &protocol.Error{Code: protocol.CodeBadFrame, Message: strings.TrimPrefix(err.Error(), events.ErrInvalid.Error()+": "), Ref: f.ID}
	}
	return e, nil
}
