package function

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/fn"
	"github.com/agentchat/agentchat/sdk/fn/fntest"
	"github.com/agentchat/agentchat/sdk/protocol"
	"github.com/agentchat/agentchat/store"
	"github.com/agentchat/agentchat/store/directory"
)

// s3Env returns the test S3 service, skipping the test when none is
// configured (failing under CI=true).
func s3Env(t *testing.T) (endpoint, access, secret string) {
	t.Helper()
	return fntest.Need(t, "AGENTCHAT_TEST_S3_ENDPOINT"), fntest.Need(t, "AGENTCHAT_TEST_S3_ACCESS_KEY"), fntest.Need(t, "AGENTCHAT_TEST_S3_SECRET_KEY")
}

// startMedia starts a media instance on a fresh bucket and a fresh
// database whose directory has conv-1 (alice and bob), with extra
// environment on top; both are removed when the test ends.
func startMedia(t *testing.T, extra map[string]string) (*Function, *minio.Client, string) {
	t.Helper()
	endpoint, access, secret := s3Env(t)
	mongoURI := fntest.Need(t, "AGENTCHAT_TEST_MONGODB_URI")
	bucket := "agentchat-media-test-" + randomHex(t, 6)
	database := "media_test_" + randomHex(t, 6)
	env := map[string]string{
		"S3_ENDPOINT": endpoint, "S3_ACCESS_KEY": access, "S3_SECRET_KEY": secret,
		"S3_BUCKET": bucket, "S3_PUBLIC_ENDPOINT": "", "MEDIA_MAX_SIZE": "", "MEDIA_URL_EXPIRY": "",
		"MONGODB_URI": mongoURI, "MONGODB_DATABASE": database,
	}
	for k, v := range extra {
		env[k] = v
	}
	admin, err := minio.New(endpoint, &minio.Options{Creds: credentials.NewStaticV4(access, secret, "")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { removeBucket(admin, bucket) })

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	db, err := store.OpenMongo(mongoURI, database, "media-test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = db.DB.Drop(context.Background())
		_ = db.Close(context.Background())
	})
	if err := directory.NewMongo(db).InsertConversation(ctx, directory.Conversation{
		ID: "conv-1", Kind: directory.Group, Members: []string{"alice", "bob"}}); err != nil {
		t.Fatal(err)
	}

	f := New()
	if err := f.Start(ctx, env); err != nil { // func's config map
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { f.Stop(context.Background()) })
	if ok, err := f.Ready(ctx); !ok || err != nil {
		t.Fatalf("Ready = %v, %v; want true", ok, err)
	}
	return f, admin, bucket
}

func removeBucket(c *minio.Client, bucket string) {
	_ = c.RemoveBucketWithOptions(context.Background(), bucket, minio.RemoveBucketOptions{ForceDelete: true})
}

func randomHex(t *testing.T, n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func digest(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// from builds a media request of typ as a connector would, from user's
// device in conversation conv.
func from(t *testing.T, user, conv, typ string, data any) event.Event {
	t.Helper()
	e, err := events.NewMediaRequest(typ, events.SourceConnectorPrefix+"test", conv, user, user+"-phone", data)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func uploadReq(t *testing.T, user, conv, mediaID string, body []byte) event.Event {
	return from(t, user, conv, events.TypeMediaUploadRequested,
		events.MediaUploadRequested{MediaID: mediaID, Size: int64(len(body)), SHA256: digest(body), Kind: events.MediaFile})
}

func completeReq(t *testing.T, user, conv, mediaID string, size int64, sum string) event.Event {
	return from(t, user, conv, events.TypeMediaUploadCompleted, events.MediaStored{MediaID: mediaID, Size: size, SHA256: sum})
}

func downloadReq(t *testing.T, user, conv, mediaID string) event.Event {
	return from(t, user, conv, events.TypeMediaDownloadRequested, events.MediaDownloadRequested{MediaID: mediaID})
}

// reply handles e and decodes the reply as a T of type typ, failing on
// anything else.
func reply[T any](t *testing.T, f *Function, e event.Event, typ string) (event.Event, T) {
	t.Helper()
	r, err := f.HandleEvent(context.Background(), e)
	if err != nil {
		t.Fatalf("Handle %s: %v", e.Type(), err)
	}
	if r == nil {
		t.Fatalf("Handle %s: no reply", e.Type())
	}
	if r.Type() != typ {
		t.Fatalf("Handle %s: reply %s (%s), want %s", e.Type(), r.Type(), r.Data(), typ)
	}
	d, err := events.Decode[T](*r)
	if err != nil {
		t.Fatalf("reply: %v", err)
	}
	return *r, d
}

// rejected handles e and checks that media refused it with code.
func rejected(t *testing.T, f *Function, e event.Event, code string) {
	t.Helper()
	r, d := reply[events.MediaRejected](t, f, e, events.TypeMediaRejected)
	if d.Code != code || d.Reason == "" || d.Request != e.Type() {
		t.Errorf("%s: rejected %+v, want code %s with a reason", e.Type(), d, code)
	}
	if r.Extensions()[events.ExtDeviceID] != e.Extensions()[events.ExtDeviceID] {
		t.Errorf("the rejection is not for the asking device")
	}
}

// do sends an HTTP request to a presigned URL and returns the status code
// and body.
func do(t *testing.T, method, rawURL string, body []byte, headers map[string]string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, rawURL, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body == nil {
		req.Body, req.ContentLength = nil, 0
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// TestUploadDownloadRoundTrip: a member gets a PUT URL, uploads, media
// confirms the object (size and the checksum S3 verified), and a member
// gets a GET URL that returns the bytes.
func TestUploadDownloadRoundTrip(t *testing.T) {
	f, admin, bucket := startMedia(t, nil)
	body := []byte(strings.Repeat("ciphertext", 1000))
	r, d := reply[events.MediaUploadReady](t, f, uploadReq(t, "alice", "conv-1", "media-1", body), events.TypeMediaUploadReady)

	for name, c := range map[string][2]any{
		"conversation": {r.Extensions()[events.ExtConversationID], "conv-1"},
		"sender":       {r.Extensions()[events.ExtSenderID], "alice"},
		"device":       {r.Extensions()[events.ExtDeviceID], "alice-phone"},
		"mediaId":      {d.MediaID, "media-1"},
		"source":       {r.Source(), events.SourceMedia},
	} {
		if c[0] != c[1] {
			t.Errorf("%s = %v, want %v", name, c[0], c[1])
		}
	}
	if left := time.Until(d.ExpiresAt); left < 14*time.Minute || left > 15*time.Minute {
		t.Errorf("expiresAt in %s, want about 15m", left)
	}
	if code, b := do(t, http.MethodPut, d.UploadURL, body, d.Headers); code != http.StatusOK {
		t.Fatalf("PUT = %d %s, want 200", code, b)
	}
	obj, err := admin.GetObject(context.Background(), bucket, "conv-1/media-1", minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := io.ReadAll(obj); !bytes.Equal(got, body) {
		t.Fatalf("stored %d bytes, want the %d uploaded", len(got), len(body))
	}

	_, st := reply[events.MediaStored](t, f, completeReq(t, "alice", "conv-1", "media-1", int64(len(body)), digest(body)), events.TypeMediaStored)
	if st.Size != int64(len(body)) || st.SHA256 != digest(body) {
		t.Errorf("stored %+v, want %d bytes of %s", st, len(body), digest(body))
	}

	_, dl := reply[events.MediaDownloadReady](t, f, downloadReq(t, "bob", "conv-1", "media-1"), events.TypeMediaDownloadReady)
	if dl.Size != int64(len(body)) || dl.SHA256 != digest(body) {
		t.Errorf("download ready %+v, want %d bytes of %s", dl, len(body), digest(body))
	}
	if left := time.Until(dl.ExpiresAt); left < 4*time.Minute || left > 5*time.Minute {
		t.Errorf("download expiresAt in %s, want about 5m", left)
	}
	if code, got := do(t, http.MethodGet, dl.DownloadURL, nil, nil); code != http.StatusOK || !bytes.Equal(got, body) {
		t.Errorf("GET = %d with %d bytes, want 200 with the %d uploaded", code, len(got), len(body))
	}
}

// TestUploadBoundToSizeAndChecksum: what MinIO enforces of a PUT URL
// signed with Content-Length and x-amz-checksum-sha256 — only the
// declared blob gets in — and that media confirms nothing else.
func TestUploadBoundToSizeAndChecksum(t *testing.T) {
	f, _, _ := startMedia(t, nil)
	body := []byte("0123456789abcdef")
	_, d := reply[events.MediaUploadReady](t, f, uploadReq(t, "alice", "conv-1", "media-2", body), events.TypeMediaUploadReady)
	other := []byte("fedcba9876543210") // same size, another digest
	otherSum := sha256.Sum256(other)
	for _, c := range []struct {
		name    string
		body    []byte
		headers map[string]string
		want    int
	}{
		{"longer", append([]byte("x"), body...), d.Headers, http.StatusForbidden},
		{"shorter", body[:5], d.Headers, http.StatusForbidden},
		{"another digest", other, d.Headers, http.StatusBadRequest},
		{"no checksum header", other, nil, http.StatusBadRequest},
		{"its own checksum header", other, map[string]string{checksumHeader: b64(otherSum[:]), taggingHeader: pendingTagging}, http.StatusForbidden},
	} {
		if code, b := do(t, http.MethodPut, d.UploadURL, c.body, c.headers); code != c.want {
			t.Errorf("PUT %s: %d %.200s, want %d", c.name, code, b, c.want)
		}
	}
	// Nothing got in: the device's word is not enough.
	rejected(t, f, completeReq(t, "alice", "conv-1", "media-2", int64(len(body)), digest(body)), protocol.CodeMediaMismatch)
	rejected(t, f, completeReq(t, "alice", "conv-1", "media-2", int64(len(other)), digest(other)), protocol.CodeMediaMismatch)

	if code, _ := do(t, http.MethodPut, d.UploadURL, body, d.Headers); code != http.StatusOK {
		t.Fatalf("PUT of the declared blob = %d, want 200", code)
	}
	// A claim of another digest for the stored object is refused too.
	rejected(t, f, completeReq(t, "alice", "conv-1", "media-2", int64(len(other)), digest(other)), protocol.CodeMediaMismatch)
	reply[events.MediaStored](t, f, completeReq(t, "alice", "conv-1", "media-2", int64(len(body)), digest(body)), events.TypeMediaStored)
}

// TestExpiredURLsAreRefused: S3 refuses a PUT or GET URL after its expiry.
func TestExpiredURLsAreRefused(t *testing.T) {
	f, _, _ := startMedia(t, map[string]string{"MEDIA_URL_EXPIRY": "1s", "MEDIA_DOWNLOAD_EXPIRY": "1s"})
	body := []byte("late")
	_, late := reply[events.MediaUploadReady](t, f, uploadReq(t, "alice", "conv-1", "media-late", body), events.TypeMediaUploadReady)
	_, d := reply[events.MediaUploadReady](t, f, uploadReq(t, "alice", "conv-1", "media-3", body), events.TypeMediaUploadReady)
	if code, _ := do(t, http.MethodPut, d.UploadURL, body, d.Headers); code != http.StatusOK {
		t.Fatalf("PUT in time = %d, want 200", code)
	}
	_, dl := reply[events.MediaDownloadReady](t, f, downloadReq(t, "bob", "conv-1", "media-3"), events.TypeMediaDownloadReady)
	// Wait until both URLs are past their expiry (signed to the second).
	fntest.Eventually(t, "the URLs to expire", func() bool { return time.Now().After(dl.ExpiresAt.Add(1500 * time.Millisecond)) })
	if code, b := do(t, http.MethodPut, late.UploadURL, body, late.Headers); code != http.StatusForbidden || !strings.Contains(string(b), "expired") {
		t.Errorf("PUT after expiry = %d %.200s, want 403 expired", code, b)
	}
	if code, b := do(t, http.MethodGet, dl.DownloadURL, nil, nil); code != http.StatusForbidden || !strings.Contains(string(b), "expired") {
		t.Errorf("GET after expiry = %d %.200s, want 403 expired", code, b)
	}
	rejected(t, f, completeReq(t, "alice", "conv-1", "media-late", int64(len(body)), digest(body)), protocol.CodeMediaMismatch)
}

// TestNonMembersAreRefused: every request from someone who is not a member
// (or about a conversation that does not exist) is answered not_member,
// before anything else is looked at.
func TestNonMembersAreRefused(t *testing.T) {
	f, _, _ := startMedia(t, nil)
	body := []byte("members only")
	_, d := reply[events.MediaUploadReady](t, f, uploadReq(t, "alice", "conv-1", "media-4", body), events.TypeMediaUploadReady)
	if code, _ := do(t, http.MethodPut, d.UploadURL, body, d.Headers); code != http.StatusOK {
		t.Fatal("PUT failed")
	}
	for _, who := range [][2]string{{"eve", "conv-1"}, {"alice", "conv-none"}} {
		user, conv := who[0], who[1]
		rejected(t, f, uploadReq(t, user, conv, "media-5", body), protocol.CodeNotMember)
		rejected(t, f, completeReq(t, user, conv, "media-4", int64(len(body)), digest(body)), protocol.CodeNotMember)
		rejected(t, f, downloadReq(t, user, conv, "media-4"), protocol.CodeNotMember)
	}
}

func TestLimitsAndConflicts(t *testing.T) {
	f, _, _ := startMedia(t, map[string]string{"MEDIA_MAX_SIZE": "1000"})
	rejected(t, f, uploadReq(t, "alice", "conv-1", "media-big", make([]byte, 1001)), protocol.CodeMediaTooLarge)
	reply[events.MediaUploadReady](t, f, uploadReq(t, "alice", "conv-1", "media-max", make([]byte, 1000)), events.TypeMediaUploadReady)
	rejected(t, f, downloadReq(t, "bob", "conv-1", "media-none"), protocol.CodeMediaNotFound)

	// A media id that holds a blob takes no other.
	body := []byte("first")
	_, d := reply[events.MediaUploadReady](t, f, uploadReq(t, "alice", "conv-1", "media-6", body), events.TypeMediaUploadReady)
	if code, _ := do(t, http.MethodPut, d.UploadURL, body, d.Headers); code != http.StatusOK {
		t.Fatal("PUT failed")
	}
	rejected(t, f, uploadReq(t, "bob", "conv-1", "media-6", []byte("other")), protocol.CodeMediaMismatch)
	reply[events.MediaUploadReady](t, f, uploadReq(t, "bob", "conv-1", "media-6", body), events.TypeMediaUploadReady)
}

// TestIdempotent: a redelivered request gets the same reply id and an
// equivalent answer; a new request about the same media a new id.
func TestIdempotent(t *testing.T) {
	f, _, _ := startMedia(t, nil)
	body := []byte("same bytes, same key")
	req := uploadReq(t, "alice", "conv-1", "media-dup", body)
	first, d1 := reply[events.MediaUploadReady](t, f, req, events.TypeMediaUploadReady)
	second, d2 := reply[events.MediaUploadReady](t, f, req, events.TypeMediaUploadReady)
	if first.ID() != second.ID() {
		t.Errorf("reply ids %s and %s, want the same for a redelivered request", first.ID(), second.ID())
	}
	if got, want := objectPath(t, d2.UploadURL), objectPath(t, d1.UploadURL); got != want {
		t.Errorf("second URL path %s, want %s", got, want)
	}
	third, _ := reply[events.MediaUploadReady](t, f, uploadReq(t, "alice", "conv-1", "media-dup", body), events.TypeMediaUploadReady)
	if third.ID() == first.ID() {
		t.Errorf("a new request got the old reply id %s", third.ID())
	}
}

func objectPath(t *testing.T, raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Path
}

func TestPublicEndpoint(t *testing.T) {
	endpoint, _, _ := s3Env(t)
	public := strings.Replace(endpoint, "127.0.0.1", "localhost", 1)
	if public == endpoint {
		t.Skipf("cannot derive a second name for %s", endpoint)
	}
	f, _, _ := startMedia(t, map[string]string{"S3_PUBLIC_ENDPOINT": public})
	body := []byte("via the public name")
	_, d := reply[events.MediaUploadReady](t, f, uploadReq(t, "alice", "conv-1", "media-pub", body), events.TypeMediaUploadReady)
	u, _ := url.Parse(d.UploadURL)
	if u.Host != public {
		t.Fatalf("URL host %s, want %s", u.Host, public)
	}
	if code, b := do(t, http.MethodPut, d.UploadURL, body, d.Headers); code != http.StatusOK {
		t.Fatalf("PUT via public endpoint = %d %s, want 200", code, b)
	}
}

func TestRejectsMalformed(t *testing.T) {
	f, _, _ := startMedia(t, nil)
	good := uploadReq(t, "alice", "conv-1", "media-x", []byte("x"))

	wrongType := good.Clone()
	wrongType.SetType(events.TypeMediaStored)
	noDevice := good.Clone()
	noDevice.SetExtension(events.ExtDeviceID, nil)
	badData := good.Clone()
	badData.SetData("application/json", map[string]any{"mediaId": "m", "size": 1, "sha256": "00", "extra": true})
	badKind := good.Clone()
	badKind.SetData("application/json", map[string]any{"mediaId": "m", "size": 1, "sha256": digest(nil), "kind": "pdf"})

	for name, e := range map[string]event.Event{"wrong type": wrongType, "no device": noDevice, "bad data": badData, "bad kind": badKind} {
		_, err := f.HandleEvent(context.Background(), e)
		if got, want := fn.StatusOf(err), http.StatusBadRequest; got != want {
			t.Errorf("%s: status %d (%v), want %d", name, got, err, want)
		}
	}
}

func TestNotStarted(t *testing.T) {
	f := New()
	if ok, _ := f.Ready(context.Background()); ok {
		t.Error("Ready before Start = true")
	}
	_, err := f.HandleEvent(context.Background(), uploadReq(t, "alice", "conv-1", "media-early", []byte("x")))
	if got, want := fn.StatusOf(err), http.StatusServiceUnavailable; got != want {
		t.Errorf("Handle before Start: status %d (%v), want %d (retryable)", got, err, want)
	}
}

func TestConfigErrors(t *testing.T) {
	for name, env := range map[string]map[string]string{
		"no endpoint":              {"S3_ENDPOINT": ""},
		"no mongodb":               {"MONGODB_URI": ""},
		"size over cap":            {"MEDIA_MAX_SIZE": "5368709121"},
		"expiry too long":          {"MEDIA_URL_EXPIRY": "200h"},
		"download expiry too long": {"MEDIA_DOWNLOAD_EXPIRY": "200h"},
	} {
		t.Run(name, func(t *testing.T) {
			base := map[string]string{"S3_ENDPOINT": "127.0.0.1:1", "S3_ACCESS_KEY": "a", "S3_SECRET_KEY": "b", "MONGODB_URI": "mongodb://127.0.0.1:1/"}
			for k, v := range env {
				base[k] = v
			}
			if _, err := loadConfig(base); err == nil {
				t.Error("loadConfig succeeded, want a config error")
			}
		})
	}
}

func TestConfigEmptyMeansDefault(t *testing.T) {
	m := map[string]string{
		"S3_ENDPOINT": "s3:9000", "S3_ACCESS_KEY": "a", "S3_SECRET_KEY": "b", "MONGODB_URI": "mongodb://db/",
		"S3_USE_SSL": "", "S3_PUBLIC_USE_SSL": "", "LOG_LEVEL": "", "MEDIA_URL_EXPIRY": "", "MEDIA_MAX_SIZE": "",
	}
	c, err := loadConfig(m)
	if err != nil {
		t.Fatalf("loadConfig: %v", err)
	}
	if c.S3UseSSL || c.PublicUseSSL || c.LogLevel != slog.LevelInfo || c.MaxSize != 100<<20 ||
		c.URLExpiry != 15*time.Minute || c.DownloadExpiry != 5*time.Minute || c.Database != "agentchat" {
		t.Errorf("config = %+v, want defaults", c)
	}
	m["S3_USE_SSL"] = "maybe"
	if _, err := loadConfig(m); err == nil {
		t.Error("S3_USE_SSL=maybe accepted")
	}
}
