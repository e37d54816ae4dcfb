package client

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentchat/agentchat/sdk/e2ee"
	"github.com/agentchat/agentchat/sdk/protocol"
)

// fakeStore plays S3 behind presigned URLs: a PUT is taken only with the
// checksum header of its body (as a URL signed with it demands), a GET
// returns what was put.
//
// A PUT with a partNumber is a part (kept as path#n). A URL with
// "expired" in its query is refused as S3 refuses an expired one.
type fakeStore struct {
	srv  *httptest.Server
	mu   sync.Mutex
	objs map[string][]byte

	// Set before use: serveMedia answers an upload over partSize (when
	// not 0) with parts of partSize; the first expireDownloads download
	// answers and expireParts part URLs carry an expired URL.
	partSize        int64
	expireDownloads int
	expireParts     int
}

func newFakeStore(t *testing.T) *fakeStore {
	s := &fakeStore{objs: map[string][]byte{}}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if r.URL.Query().Has("expired") {
			w.WriteHeader(http.StatusForbidden)
			io.WriteString(w, `<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>`)
			return
		}
		switch r.Method {
		case http.MethodPut:
			b, _ := io.ReadAll(r.Body)
			sum := sha256.Sum256(b)
			if r.Header.Get("X-Amz-Checksum-Sha256") != base64.StdEncoding.EncodeToString(sum[:]) {
				w.WriteHeader(http.StatusBadRequest)
				io.WriteString(w, `<Error><Code>XAmzContentChecksumMismatch</Code><Message>checksum</Message></Error>`)
				return
			}
			if n := r.URL.Query().Get("partNumber"); n != "" {
				s.objs[r.URL.Path+"#"+n] = b
				return
			}
			s.objs[r.URL.Path] = b
		case http.MethodGet:
			b, ok := s.objs[r.URL.Path]
			if !ok {
				w.WriteHeader(http.StatusForbidden)
				io.WriteString(w, `<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>`)
				return
			}
			w.Write(b)
		}
	}))
	t.Cleanup(s.srv.Close)
	return s
}

// downloads counts the download requests serveMedia answered.
var downloads atomic.Int64

// serveMedia answers the client's media requests on sc as media and the
// connector would, for conversation c-1 only (other conversations:
// not_member), until the connection ends. It returns the other frames the
// client writes, and the upload requests it saw.
func serveMedia(t *testing.T, sc *fakeConn, st *fakeStore) (others <-chan protocol.Frame, uploads <-chan protocol.Frame) {
	rest, ups := make(chan protocol.Frame, 1024), make(chan protocol.Frame, 64)
	go func() {
		defer close(rest)
		for f := range sc.frames {
			if f.Type != protocol.TypeUpload && f.Type != protocol.TypeUploaded && f.Type != protocol.TypeDownload {
				rest <- f
				continue
			}
			if f.Conversation != "c-1" {
				sc.send(protocol.Frame{Type: protocol.TypeError, ID: f.ID, Conversation: f.Conversation, Code: protocol.CodeNotMember, Message: "not a member"})
				continue
			}
			path := "/bucket/" + f.Conversation + "/" + f.ID
			st.mu.Lock()
			b := st.objs[path]
			st.mu.Unlock()
			sum := sha256.Sum256(b)
			switch f.Type {
			case protocol.TypeUpload:
				ups <- f
				st.mu.Lock()
				partSize := st.partSize
				st.mu.Unlock()
				if partSize > 0 && f.Size > partSize {
					a := protocol.Frame{Type: protocol.TypeMedia, Kind: protocol.MediaUpload, ID: f.ID, Conversation: f.Conversation,
						ExpiresAt: time.Now().Add(time.Minute)}
					for off, n := int64(0), 1; off < f.Size; off, n = off+partSize, n+1 {
						u := fmt.Sprintf("%s%s?partNumber=%d", st.srv.URL, path, n)
						st.mu.Lock()
						if st.expireParts > 0 {
							st.expireParts--
							u += "&expired"
						}
						st.mu.Unlock()
						a.Parts = append(a.Parts, protocol.Part{URL: u, Size: min(partSize, f.Size-off)})
					}
					sc.send(a)
					continue
				}
				raw, _ := hex.DecodeString(f.SHA256)
				sc.send(protocol.Frame{Type: protocol.TypeMedia, Kind: protocol.MediaUpload, ID: f.ID, Conversation: f.Conversation,
					URL: st.srv.URL + path, Headers: map[string]string{"X-Amz-Checksum-Sha256": base64.StdEncoding.EncodeToString(raw)},
					ExpiresAt: time.Now().Add(time.Minute)})
			case protocol.TypeUploaded:
				if len(f.Parts) > 0 { // complete: the parts as declared make the object
					st.mu.Lock()
					var whole []byte
					for i, p := range f.Parts {
						part := st.objs[fmt.Sprintf("%s#%d", path, i+1)]
						if s := sha256.Sum256(part); hex.EncodeToString(s[:]) != p.SHA256 {
							whole = nil
							break
						}
						whole = append(whole, part...)
					}
					if whole != nil {
						st.objs[path] = whole
					}
					st.mu.Unlock()
					b, sum = whole, sha256.Sum256(whole)
				}
				sc.send(protocol.Frame{Type: protocol.TypeMedia, Kind: protocol.MediaStored, ID: f.ID, Conversation: f.Conversation,
					Size: int64(len(b)), SHA256: hex.EncodeToString(sum[:])})
			case protocol.TypeDownload:
				u := st.srv.URL + path
				st.mu.Lock()
				if st.expireDownloads > 0 {
					st.expireDownloads--
					u += "?expired"
				}
				st.mu.Unlock()
				downloads.Add(1)
				sc.send(protocol.Frame{Type: protocol.TypeMedia, Kind: protocol.MediaDownload, ID: f.ID, Conversation: f.Conversation,
					URL: u, ExpiresAt: time.Now().Add(time.Minute), Size: int64(len(b)), SHA256: hex.EncodeToString(sum[:])})
			}
		}
	}()
	return rest, ups
}

// expectOn returns the next frame of type typ on ch, skipping others.
func expectOn(t *testing.T, ch <-chan protocol.Frame, typ string) protocol.Frame {
	t.Helper()
	deadline := time.After(waitFor)
	for {
		select {
		case f, ok := <-ch:
			if !ok {
				t.Fatalf("connection ended waiting for %q", typ)
			}
			if f.Type == typ {
				return f
			}
		case <-deadline:
			t.Fatalf("no %q frame", typ)
		}
	}
}

// TestSendFileUploadsThenSends: SendFile asks for an upload, PUTs the
// encrypted blob, waits for stored, and only then sends the message whose
// content names the blob; Download fetches, checks and decrypts it.
func TestSendFileUploadsThenSends(t *testing.T) {
	fc := newFakeConnector(t, "tok")
	st := newFakeStore(t)
	me, bob := newDevice(t, "alice", "a1"), newDevice(t, "bob", "b1")
	dir := &mapDirectory{}
	dir.set("c-1", me.recipient(), bob.recipient())
	c := dial(t, testConfig(me, dir, fc.URL))
	others, uploads := serveMedia(t, fc.accept(), st)

	data := []byte("a photo, of sorts")
	m, id, err := c.SendFile(context.Background(), "c-1", data, File{Name: "p.jpg", Type: "image/jpeg", Thumbnail: []byte{1, 2, 3}})
	if err != nil {
		t.Fatalf("SendFile: %v", err)
	}
	up := <-uploads
	if up.Kind != "image" || up.Size != int64(len(data))+28 || len(up.SHA256) != 64 {
		t.Errorf("upload frame %+v: want kind image, the blob's size %d and its sha256", up, len(data)+28)
	}
	send := expectOn(t, others, protocol.TypeSend)
	if send.ID != id {
		t.Errorf("send frame id %s, SendFile returned %s", send.ID, id)
	}
	plain, err := e2ee.Open(send.Envelope, e2ee.AssociatedData{Conversation: "c-1", SenderDevice: "a1", ClientMessageID: id}, "b1", bob.key)
	if err != nil {
		t.Fatal(err)
	}
	content, err := e2ee.UnmarshalContent(plain)
	if err != nil {
		t.Fatal(err)
	}
	got := content.Media
	if got == nil || got.ID != m.ID || got.Name != "p.jpg" || got.Type != "image/jpeg" || got.Size != int64(len(data)) ||
		got.SHA256 != up.SHA256 || string(got.Key) != string(m.Key) || len(got.Thumbnail) != 3 {
		t.Fatalf("the message's media %+v, want the uploaded blob's reference", got)
	}
	st.mu.Lock()
	blob := st.objs["/bucket/c-1/"+m.ID]
	st.mu.Unlock()
	if sum := sha256.Sum256(blob); hex.EncodeToString(sum[:]) != up.SHA256 {
		t.Error("the store holds another blob than the one declared")
	}

	back, err := c.Download(context.Background(), "c-1", got)
	if err != nil || string(back) != string(data) {
		t.Fatalf("Download: %q, %v; want the file", back, err)
	}
	// A blob that is not the one the message names is refused.
	swapped := *got
	swapped.SHA256 = hex.EncodeToString(make([]byte, 32))
	if _, err := c.Download(context.Background(), "c-1", &swapped); !errors.Is(err, ErrMediaDigest) {
		t.Errorf("Download of a swapped blob: %v, want ErrMediaDigest", err)
	}
}

// TestRefusedFileSendsNoMessage: a refused upload request fails SendFile
// with the refusal, and no message is sent; the refusal is the caller's,
// not an Error event.
func TestRefusedFileSendsNoMessage(t *testing.T) {
	fc := newFakeConnector(t, "tok")
	st := newFakeStore(t)
	me := newDevice(t, "eve", "e1")
	dir := &mapDirectory{}
	dir.set("c-2", me.recipient())
	c := dial(t, testConfig(me, dir, fc.URL))
	sc := fc.accept()
	others, _ := serveMedia(t, sc, st)
	_, _, err := c.SendFile(context.Background(), "c-2", []byte("spam"), File{})
	var pe *protocol.Error
	if !errors.As(err, &pe) || pe.Code != protocol.CodeNotMember {
		t.Fatalf("SendFile into a conversation of others: %v, want not_member", err)
	}
	// Every frame written so far, up to a barrier typing frame after them.
	if err := c.Typing("barrier", "paused"); err != nil {
		t.Fatal(err)
	}
	for f := expectOn(t, others, protocol.TypeTyping); f.Conversation != "barrier"; f = expectOn(t, others, protocol.TypeTyping) {
	}
	// (expectOn skipped any send: check there was none by counting.)
	for _, ev := range handled(t, c, sc) {
		if e, ok := ev.(*Error); ok {
			t.Errorf("an Error event for the refusal SendFile returned: %v", e)
		}
	}
}

// TestMediaRequestIsRepeatedUntilAnswered: a request without an answer is
// written again after ResendInterval (the socket may have changed), and
// one answer ends it.
func TestMediaRequestIsRepeatedUntilAnswered(t *testing.T) {
	fc := newFakeConnector(t, "tok")
	me := newDevice(t, "alice", "a1")
	c := dial(t, testConfig(me, &mapDirectory{}, fc.URL))
	sc := fc.accept()
	res := make(chan error, 1)
	go func() {
		_, err := c.RequestDownload(context.Background(), "c-1", "m1")
		res <- err
	}()
	first := sc.expect(protocol.TypeDownload)
	again := sc.expect(protocol.TypeDownload) // no answer: asked again
	if first.ID != "m1" || again.ID != "m1" {
		t.Fatalf("requests %+v, %+v", first, again)
	}
	sc.send(protocol.Frame{Type: protocol.TypeError, ID: "m1", Conversation: "c-1", Code: protocol.CodeMediaNotFound, Message: "none"})
	var pe *protocol.Error
	if err := <-res; !errors.As(err, &pe) || pe.Code != protocol.CodeMediaNotFound {
		t.Fatalf("RequestDownload: %v, want media_not_found", err)
	}
}

// TestSendFileInParts: over the store's part size, SendFile PUTs each
// part with its own checksum, renews an expired part URL by asking again,
// and declares the parts' digests when it completes; Download gets the
// whole blob back.
func TestSendFileInParts(t *testing.T) {
	fc := newFakeConnector(t, "tok")
	st := newFakeStore(t)
	st.partSize, st.expireParts = 1000, 2 // the first answer's first two part URLs have expired
	me, bob := newDevice(t, "alice", "a1"), newDevice(t, "bob", "b1")
	dir := &mapDirectory{}
	dir.set("c-1", me.recipient(), bob.recipient())
	c := dial(t, testConfig(me, dir, fc.URL))
	_, uploads := serveMedia(t, fc.accept(), st)

	data := make([]byte, 2500)
	for i := range data {
		data[i] = byte(i)
	}
	m, _, err := c.SendFile(context.Background(), "c-1", data, File{Name: "big.bin"})
	if err != nil {
		t.Fatalf("SendFile: %v", err)
	}
	if first, again := <-uploads, <-uploads; first.ID != m.ID || again.ID != m.ID {
		t.Fatalf("upload requests for %s and %s, want two for %s (the second renewing the expired URL)", first.ID, again.ID, m.ID)
	}
	st.mu.Lock()
	n := len(st.objs)
	whole := st.objs["/bucket/c-1/"+m.ID]
	st.mu.Unlock()
	if n != 4 || int64(len(whole)) != m.Size+28 {
		t.Fatalf("the store holds %d objects, the blob %d bytes; want 3 parts and the completed %d-byte blob", n, len(whole), m.Size+28)
	}
	back, err := c.Download(context.Background(), "c-1", m)
	if err != nil || string(back) != string(data) {
		t.Fatalf("Download: %d bytes, %v; want the file", len(back), err)
	}
	// A grant in parts is not for Put, and one URL not for PutParts.
	if err := c.Put(context.Background(), &UploadGrant{Parts: []protocol.Part{{URL: "x", Size: 1}}}, []byte{1}); err == nil {
		t.Error("Put of a grant in parts: no error")
	}
	if _, err := c.PutParts(context.Background(), &UploadGrant{URL: "x"}, []byte{1}); err == nil {
		t.Error("PutParts of a grant of one URL: no error")
	}
}

// TestDownloadRenewsAnExpiredURL: a download URL the store calls expired
// is asked for again, once; a second expired one is the caller's error.
func TestDownloadRenewsAnExpiredURL(t *testing.T) {
	fc := newFakeConnector(t, "tok")
	st := newFakeStore(t)
	me := newDevice(t, "alice", "a1")
	dir := &mapDirectory{}
	dir.set("c-1", me.recipient())
	c := dial(t, testConfig(me, dir, fc.URL))
	serveMedia(t, fc.accept(), st)
	data := []byte("fetch me later")
	m, _, err := c.SendFile(context.Background(), "c-1", data, File{})
	if err != nil {
		t.Fatal(err)
	}

	st.mu.Lock()
	st.expireDownloads = 1
	st.mu.Unlock()
	before := downloads.Load()
	back, err := c.Download(context.Background(), "c-1", m)
	if err != nil || string(back) != string(data) {
		t.Fatalf("Download after one expired URL: %q, %v; want the file", back, err)
	}
	if n := downloads.Load() - before; n != 2 {
		t.Errorf("%d download requests, want 2 (one renewal)", n)
	}

	st.mu.Lock()
	st.expireDownloads = 2
	st.mu.Unlock()
	before = downloads.Load()
	_, err = c.Download(context.Background(), "c-1", m)
	var se *StoreError
	if !errors.As(err, &se) || !se.Expired() {
		t.Errorf("Download with two expired URLs: %v, want the store's expired refusal", err)
	}
	if n := downloads.Load() - before; n != 2 {
		t.Errorf("%d download requests, want 2 (renewed once only)", n)
	}
}
