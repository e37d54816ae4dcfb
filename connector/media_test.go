package connector

import (
	"strings"
	"testing"
	"time"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/protocol"
)

// TestMediaFramesBecomeMediaRequests: upload, uploaded and download frames
// become media's request events, stamped with the socket's identity.
func TestMediaFramesBecomeMediaRequests(t *testing.T) {
	e := startConnector(t, nil)
	c := e.dial("alice", "d1")
	sum := strings.Repeat("ab", 32)
	c.sendFrame(protocol.Frame{Type: protocol.TypeUpload, ID: "media-1", Conversation: "conv-1", Size: 42, SHA256: sum, Kind: "image"})
	c.sendFrame(protocol.Frame{Type: protocol.TypeUploaded, ID: "media-1", Conversation: "conv-1", Size: 42, SHA256: sum})
	c.sendFrame(protocol.Frame{Type: protocol.TypeDownload, ID: "media-1", Conversation: "conv-1"})
	eventually(t, frameWait, "3 events", func() bool { return len(e.sink.received()) == 3 })

	want := []struct{ typ, data string }{
		{events.TypeMediaUploadRequested, `{"mediaId":"media-1","size":42,"sha256":"` + sum + `","kind":"image"}`},
		{events.TypeMediaUploadCompleted, `{"mediaId":"media-1","size":42,"sha256":"` + sum + `"}`},
		{events.TypeMediaDownloadRequested, `{"mediaId":"media-1"}`},
	}
	for i, g := range e.sink.received() {
		w := want[i]
		if g.Type() != w.typ || g.Subject() != "conv-1" || string(g.Data()) != w.data ||
			g.Extensions()[events.ExtSenderID] != "alice" || g.Extensions()[events.ExtDeviceID] != "d1" {
			t.Errorf("event %d: got %s %s %s, want %s conv-1 %s from alice/d1", i, g.Type(), g.Subject(), g.Data(), w.typ, w.data)
		}
	}

	// A kind the catalog lacks is refused at the edge, with the frame's id.
	c.sendFrame(protocol.Frame{Type: protocol.TypeUpload, ID: "media-2", Conversation: "conv-1", Size: 42, SHA256: sum, Kind: "pdf"})
	if f := c.next(); f.Type != protocol.TypeError || f.Code != protocol.CodeBadFrame || f.ID != "media-2" || !strings.Contains(f.Message, "kind") {
		t.Errorf("upload of kind pdf: got %+v, want a bad_frame error about the kind", f)
	}
}

// TestMediaAnswersBecomeFrames: each of media's answers reaches the
// device as a media frame, and a refusal as an error frame naming the
// media id.
func TestMediaAnswersBecomeFrames(t *testing.T) {
	e := startConnector(t, nil)
	bob := e.dial("bob", "b1")
	req, _ := events.NewMediaRequest(events.TypeMediaUploadRequested, "/x", "conv-1", "bob", "b1",
		events.MediaUploadRequested{MediaID: "media-1", Size: 3, SHA256: strings.Repeat("a", 64), Kind: "file"})
	exp := time.Now().Add(time.Minute).UTC().Truncate(time.Second)
	sum := strings.Repeat("a", 64)
	answers := []struct {
		typ  string
		data any
		ok   func(protocol.Frame) bool
	}{
		{events.TypeMediaUploadReady, events.MediaUploadReady{MediaID: "media-1", UploadURL: "http://s3/put", ExpiresAt: exp,
			Headers: map[string]string{"X-Amz-Checksum-Sha256": "qqo="}},
			func(f protocol.Frame) bool {
				return f.Type == protocol.TypeMedia && f.Kind == protocol.MediaUpload && f.URL == "http://s3/put" &&
					f.ExpiresAt.Equal(exp) && f.Headers["X-Amz-Checksum-Sha256"] == "qqo="
			}},
		{events.TypeMediaStored, events.MediaStored{MediaID: "media-1", Size: 3, SHA256: sum},
			func(f protocol.Frame) bool {
				return f.Type == protocol.TypeMedia && f.Kind == protocol.MediaStored && f.Size == 3 && f.SHA256 == sum
			}},
		{events.TypeMediaDownloadReady, events.MediaDownloadReady{MediaID: "media-1", DownloadURL: "http://s3/get", ExpiresAt: exp, Size: 3, SHA256: sum},
			func(f protocol.Frame) bool {
				return f.Type == protocol.TypeMedia && f.Kind == protocol.MediaDownload && f.URL == "http://s3/get" && f.Size == 3
			}},
		{events.TypeMediaRejected, events.MediaRejected{MediaID: "media-1", Request: events.TypeMediaDownloadRequested,
			Code: protocol.CodeNotMember, Reason: "not a member"},
			func(f protocol.Frame) bool {
				return f.Type == protocol.TypeError && f.Code == protocol.CodeNotMember && f.Message == "not a member"
			}},
	}
	for _, a := range answers {
		ev, err := events.NewMediaAnswer(a.typ, req, a.data)
		if err != nil {
			t.Fatal(err)
		}
		e.publish(ev, [2]string{"bob", "b1"})
		if f := bob.next(); !a.ok(f) || f.ID != "media-1" || f.Conversation != "conv-1" {
			t.Errorf("%s: got %+v", a.typ, f)
		}
	}
}
