package function

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/fn/fntest"
	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// s3Env returns the dev/test S3 service, skipping the test when none is
// configured (failing under CI=true).
func s3Env(t *testing.T) (endpoint, access, secret string) {
	t.Helper()
	return fntest.Need(t, "AGENTCHAT_TEST_S3_ENDPOINT"), fntest.Need(t, "AGENTCHAT_TEST_S3_ACCESS_KEY"), fntest.Need(t, "AGENTCHAT_TEST_S3_SECRET_KEY")
}

// startMedia starts a media instance on a fresh bucket, with extra
// environment on top, and removes the bucket when the test ends.
func startMedia(t *testing.T, extra map[string]string) (*Function, *minio.Client, string) {
	t.Helper()
	endpoint, access, secret := s3Env(t)
	bucket := "agentchat-media-test-" + randomHex(t, 6)
	env := map[string]string{
		"S3_ENDPOINT": endpoint, "S3_ACCESS_KEY": access, "S3_SECRET_KEY": secret,
		"S3_BUCKET": bucket, "S3_PUBLIC_ENDPOINT": "", "MEDIA_MAX_SIZE": "", "MEDIA_URL_EXPIRY": "",
	}
	for k, v := range extra {
		env[k] = v
	}
	admin, err := minio.New(endpoint, &minio.Options{Creds: credentials.NewStaticV4(access, secret, "")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { removeBucket(admin, bucket) })

	f := New()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
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
	ctx := context.Background()
	for obj := range c.ListObjects(ctx, bucket, minio.ListObjectsOptions{Recursive: true}) {
		if obj.Err == nil {
			c.RemoveObject(ctx, bucket, obj.Key, minio.RemoveObjectOptions{})
		}
	}
	c.RemoveBucket(ctx, bucket)
}

func randomHex(t *testing.T, n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// request builds an upload request as a connector would.
func request(t *testing.T, id, conv, mediaID string, body []byte, size int64) event.Event {
	t.Helper()
	sum := sha256.Sum256(body)
	e, err := events.New(events.TypeMediaUploadRequested, id,
		events.Meta{Source: events.SourceConnectorPrefix + "test", Conversation: conv, Sender: "alice", Device: "alice-phone"},
		events.MediaUploadRequested{MediaID: mediaID, Size: size, SHA256: hex.EncodeToString(sum[:])})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// ready handles e and decodes the reply, failing on anything else.
func ready(t *testing.T, f *Function, e event.Event) (event.Event, events.MediaUploadReady) {
	t.Helper()
	reply, err := f.HandleEvent(context.Background(), e)
	if err != nil {
		t.Fatalf("Handle: %v", err)
	}
	if reply == nil {
		t.Fatal("Handle: no reply")
	}
	d, err := events.Decode[events.MediaUploadReady](*reply)
	if err != nil {
		t.Fatalf("reply: %v", err)
	}
	if got, want := reply.Type(), events.TypeMediaUploadReady; got != want {
		t.Fatalf("reply type = %s, want %s", got, want)
	}
	return *reply, d
}

// put uploads body to a presigned URL and returns the status code.
func put(t *testing.T, rawURL string, body []byte) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPut, rawURL, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

func status(err error) int {
	var r *cehttp.Result
	if errors.As(err, &r) {
		return r.StatusCode
	}
	return 0
}

func TestPresignedPutUploads(t *testing.T) {
	f, admin, bucket := startMedia(t, nil)
	body := []byte(strings.Repeat("ciphertext", 1000))
	reply, d := ready(t, f, request(t, "req-1", "conv-1", "media-1", body, int64(len(body))))

	for name, c := range map[string][2]string{
		"conversation": {reply.Extensions()[events.ExtConversationID].(string), "conv-1"},
		"sender":       {reply.Extensions()[events.ExtSenderID].(string), "alice"},
		"device":       {reply.Extensions()[events.ExtDeviceID].(string), "alice-phone"},
		"mediaId":      {d.MediaID, "media-1"},
		"source":       {reply.Source(), events.SourceMedia},
	} {
		if c[0] != c[1] {
			t.Errorf("%s = %q, want %q", name, c[0], c[1])
		}
	}
	if left := time.Until(d.ExpiresAt); left < 14*time.Minute || left > 15*time.Minute {
		t.Errorf("expiresAt in %s, want about 15m", left)
	}
	if got := put(t, d.UploadURL, body); got != http.StatusOK {
		t.Fatalf("PUT = %d, want 200", got)
	}
	obj, err := admin.GetObject(context.Background(), bucket, "conv-1/media-1", minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(obj)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, body) {
		t.Fatalf("stored %d bytes, want the %d uploaded", len(got), len(body))
	}
}

func TestOversizedRejected(t *testing.T) {
	f, _, _ := startMedia(t, map[string]string{"MEDIA_MAX_SIZE": "1000"})
	big := make([]byte, 1001)
	_, err := f.HandleEvent(context.Background(), request(t, "req-big", "conv-1", "media-big", big, 1001))
	if got, want := status(err), http.StatusBadRequest; got != want {
		t.Fatalf("over MEDIA_MAX_SIZE: status %d (%v), want %d", got, err, want)
	}

	// The signed Content-Length holds the limit at upload time too: a body
	// longer or shorter than the size asked for is refused by S3.
	small := []byte("0123456789")
	_, d := ready(t, f, request(t, "req-small", "conv-1", "media-small", small, int64(len(small))))
	for _, body := range [][]byte{make([]byte, 5000), small[:5]} {
		if got := put(t, d.UploadURL, body); got != http.StatusForbidden {
			t.Errorf("PUT of %d bytes on a URL for %d = %d, want 403", len(body), len(small), got)
		}
	}
	if got := put(t, d.UploadURL, small); got != http.StatusOK {
		t.Errorf("PUT of the declared size = %d, want 200", got)
	}
}

func TestIdempotent(t *testing.T) {
	f, _, _ := startMedia(t, nil)
	body := []byte("same bytes, same key")
	req := request(t, "req-dup", "conv-2", "media-dup", body, int64(len(body)))

	first, d1 := ready(t, f, req)
	second, d2 := ready(t, f, req) // a redelivery
	if first.ID() != second.ID() {
		t.Errorf("reply ids %s and %s, want the same for a redelivered request", first.ID(), second.ID())
	}
	if got, want := objectPath(t, d2.UploadURL), objectPath(t, d1.UploadURL); got != want {
		t.Errorf("second URL path %s, want %s", got, want)
	}
	if got := put(t, d1.UploadURL, body); got != http.StatusOK {
		t.Fatalf("PUT = %d, want 200", got)
	}

	// A new request for the stored media (same size) is answered again,
	// with a new reply id; one with another size conflicts.
	third, d3 := ready(t, f, request(t, "req-dup-2", "conv-2", "media-dup", body, int64(len(body))))
	if third.ID() == first.ID() {
		t.Errorf("a new request got the old reply id %s", third.ID())
	}
	if got, want := objectPath(t, d3.UploadURL), objectPath(t, d1.UploadURL); got != want {
		t.Errorf("third URL path %s, want %s", got, want)
	}
	_, err := f.HandleEvent(context.Background(), request(t, "req-dup-3", "conv-2", "media-dup", body, 7))
	if got, want := status(err), http.StatusBadRequest; got != want {
		t.Errorf("same mediaId, other size: status %d (%v), want %d", got, err, want)
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
	_, d := ready(t, f, request(t, "req-pub", "conv-3", "media-pub", body, int64(len(body))))
	u, _ := url.Parse(d.UploadURL)
	if u.Host != public {
		t.Fatalf("URL host %s, want %s", u.Host, public)
	}
	if got := put(t, d.UploadURL, body); got != http.StatusOK {
		t.Fatalf("PUT via public endpoint = %d, want 200", got)
	}
}

func TestRejectsMalformed(t *testing.T) {
	f, _, _ := startMedia(t, nil)
	good := request(t, "req-x", "conv-4", "media-x", []byte("x"), 1)

	wrongType := good.Clone()
	wrongType.SetType(events.TypeMediaStored)
	noDevice := good.Clone()
	noDevice.SetExtension(events.ExtDeviceID, nil)
	badData := good.Clone()
	badData.SetData("application/json", map[string]any{"mediaId": "m", "size": 1, "sha256": "00", "extra": true})

	for name, e := range map[string]event.Event{"wrong type": wrongType, "no device": noDevice, "bad data": badData} {
		_, err := f.HandleEvent(context.Background(), e)
		if got, want := status(err), http.StatusBadRequest; got != want {
			t.Errorf("%s: status %d (%v), want %d", name, got, err, want)
		}
	}
}

func TestNotStarted(t *testing.T) {
	f := New()
	if ok, _ := f.Ready(context.Background()); ok {
		t.Error("Ready before Start = true")
	}
	_, err := f.HandleEvent(context.Background(), request(t, "req-early", "conv-5", "media-early", []byte("x"), 1))
	if got, want := status(err), http.StatusServiceUnavailable; got != want {
		t.Errorf("Handle before Start: status %d (%v), want %d (retryable)", got, err, want)
	}
}

func TestConfigErrors(t *testing.T) {
	for name, env := range map[string]map[string]string{
		"no endpoint":     {"S3_ENDPOINT": ""},
		"size over cap":   {"MEDIA_MAX_SIZE": "104857601"},
		"expiry too long": {"MEDIA_URL_EXPIRY": "200h"},
	} {
		t.Run(name, func(t *testing.T) {
			base := map[string]string{"S3_ENDPOINT": "127.0.0.1:1", "S3_ACCESS_KEY": "a", "S3_SECRET_KEY": "b"}
			for k, v := range env {
				base[k] = v
			}
			if err := New().Start(context.Background(), base); err == nil {
				t.Error("Start succeeded, want a config error")
			}
		})
	}
}

func TestConfigEmptyMeansDefault(t *testing.T) {
	m := map[string]string{
		"S3_ENDPOINT": "s3:9000", "S3_ACCESS_KEY": "a", "S3_SECRET_KEY": "b",
		"S3_USE_SSL": "", "S3_PUBLIC_USE_SSL": "", "LOG_LEVEL": "", "MEDIA_URL_EXPIRY": "",
	}
	c, err := loadConfig(m)
	if err != nil {
		t.Fatalf("loadConfig: %v", err)
	}
	if c.S3UseSSL || c.PublicUseSSL || c.LogLevel != slog.LevelInfo || c.MaxSize != events.MaxMediaSize || c.URLExpiry != 15*time.Minute {
		t.Errorf("config = %+v, want defaults", c)
	}
	m["S3_USE_SSL"] = "maybe"
	if _, err := loadConfig(m); err == nil {
		t.Error("S3_USE_SSL=maybe accepted")
	}
}
