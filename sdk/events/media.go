package events

import "github.com/cloudevents/sdk-go/v2/event"

// NewMediaRequest is a device's media request as the connector emits it:
// typ is TypeMediaUploadRequested (d a MediaUploadRequested),
// TypeMediaUploadCompleted (a MediaStored: what the device uploaded) or
// TypeMediaDownloadRequested (a MediaDownloadRequested). Each request is
// a new event (a random id): handling is idempotent by (conversation,
// media id), and a device asks again when an answer is late or its URL
// expired.
func NewMediaRequest(typ, source, conversation, user, device string, d any) (event.Event, error) {
	return New(typ, RandomID(), Meta{Source: source, Conversation: conversation, Sender: user, Device: device}, d)
}

// NewMediaAnswer is media's reply to the request req (upload.ready,
// stored, download.ready or rejected), for the device that asked. Its id
// derives from the request's, so a redelivered request gives the same
// reply id.
func NewMediaAnswer(typ string, req event.Event, d any) (event.Event, error) {
	ext := func(name string) string { s, _ := req.Extensions()[name].(string); return s }
	return New(typ, DeriveID(typ, req.ID()), Meta{Source: SourceMedia, Conversation: ext(ExtConversationID),
		Sender: ext(ExtSenderID), Device: ext(ExtDeviceID), TraceParent: ext(ExtTraceParent)}, d)
}
