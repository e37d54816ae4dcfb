package function

import (
	"github.com/agentchat/agentchat/sdk/events"
	"github.com/cloudevents/sdk-go/v2/event"
)

// newMediaUploadReady builds media's reply to the request with id
// requestID. It belongs in sdk/events (as NewMediaUploadReady) once the
// SDK is next tagged; it lives here so this function builds against the
// tagged SDK. The id is derived from the request's id, so a redelivered
// request produces the same reply id and every later hop can dedupe it,
// while a new request (say, after the URL expired) gets a new one.
func newMediaUploadReady(requestID, conversation, user, device, traceParent string, d events.MediaUploadReady) (event.Event, error) {
	return events.New(events.TypeMediaUploadReady, events.DeriveID("media.ready", requestID),
		events.Meta{Source: events.SourceMedia, Conversation: conversation, Sender: user, Device: device, TraceParent: traceParent}, d)
}
