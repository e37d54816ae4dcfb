package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/agentchat/agentchat/internal/testenv"
	"github.com/agentchat/agentchat/sdk/client"
	"github.com/agentchat/agentchat/sdk/protocol"
)

// mediaFunctions run the message pipeline and media.
var mediaFunctions = []string{"accounts", "persist", "route", "media", "deadletter"}

// mediaURLExpiry is the platform's presigned URL lifetime in these tests:
// long enough for an upload of a few MB on a loaded machine, short enough
// to wait out.
const mediaURLExpiry = 5 * time.Second

// TestMedia: Alice sends a file with the Go client into a group (the
// blob through a presigned PUT to the real MinIO, the key and digest in
// an ordinary encrypted message); Bob downloads and decrypts it, and its
// SHA-256 is the original's; Bob sends one back. Then every refusal the
// platform owes: a non-member asking for an upload or a download URL, an
// upload over the size limit, an upload larger than declared or with
// another checksum, expired upload and download URLs, a download of media
// that does not exist — each with a clear error, and none leaving a
// message behind or an object in the bucket.
func TestMedia(t *testing.T) {
	e := start(t, opts{functions: mediaFunctions, envFor: map[string]map[string]string{"media": {
		"MEDIA_URL_EXPIRY": mediaURLExpiry.String(), "MEDIA_DOWNLOAD_EXPIRY": mediaURLExpiry.String(),
		"MEDIA_MAX_SIZE": "4194304", // 4 MiB, so that "too large" costs nothing to try
	}}})
	if e.s3.Bucket == "" {
		testenv.Missing(t, "media needs the test S3 service ("+testenv.EnvS3Endpoint+")")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	alice, bob, carol, eve := signup(t, e, "alice"), signup(t, e, "bob"), signup(t, e, "carol"), signup(t, e, "eve")
	ca, cb, ce := alice.dial(t, e), bob.dial(t, e), eve.dial(t, e)
	wa, wb := watch(ca), watch(cb)
	watch(ce)
	conv, err := alice.sess.CreateConversation(ctx, "group", []string{alice.id, bob.id, carol.id}, "photos")
	if err != nil {
		t.Fatal(err)
	}
	group := conv.ID

	// Alice → the group: a 3 MB "photo" with a thumbnail.
	photo := randomBytes(t, 3<<20)
	thumb := randomBytes(t, 2000)
	sent, msgID, err := ca.SendFile(ctx, group, photo, client.File{Name: "beach.jpg", Type: "image/jpeg", Width: 4032, Height: 3024, Thumbnail: thumb})
	if err != nil {
		t.Fatalf("alice's SendFile: %v", err)
	}
	got := waitMedia(t, wb, group, alice.id, 1)[0]
	m := got.Content.Media
	if got.ID != msgID || m.ID != sent.ID || m.Name != "beach.jpg" || m.Type != "image/jpeg" || m.Size != int64(len(photo)) ||
		m.Width != 4032 || !bytes.Equal(m.Thumbnail, thumb) {
		t.Errorf("bob's message %s: media %+v (name %q, type %q, %d bytes), want alice's %s of beach.jpg", got.ID, m.ID, m.Name, m.Type, m.Size, msgID)
	}
	data, err := cb.Download(ctx, group, m)
	if err != nil {
		t.Fatalf("bob's Download: %v", err)
	}
	if sha256.Sum256(data) != sha256.Sum256(photo) {
		t.Fatalf("bob's download: %d bytes whose SHA-256 is not the photo's", len(data))
	}
	// What the bucket holds is the ciphertext (its digest is the one in
	// the message), not the photo.
	obj := readObject(t, e, group+"/"+m.ID)
	if sum := sha256.Sum256(obj); hex.EncodeToString(sum[:]) != m.SHA256 || bytes.Contains(obj, photo[:64]) {
		t.Errorf("the stored object is not the encrypted blob the message names")
	}

	// Bob → the group: a file back.
	notes := []byte(strings.Repeat("minutes of the meeting\n", 500))
	if _, _, err := cb.SendFile(ctx, group, notes, client.File{Name: "notes.txt", Type: "text/plain"}); err != nil {
		t.Fatalf("bob's SendFile: %v", err)
	}
	back := waitMedia(t, wa, group, bob.id, 1)[0]
	if data, err := ca.Download(ctx, group, back.Content.Media); err != nil || !bytes.Equal(data, notes) {
		t.Fatalf("alice's download of bob's file: %d bytes, %v; want the %d bytes sent", len(data), err, len(notes))
	}

	// The refusals. None may leave a message or an object behind.
	before := e.countMessages(t)
	objects := bucketKeys(t, e)
	blob := randomBytes(t, 64<<10)
	sum := sha256.Sum256(blob)
	digest := hex.EncodeToString(sum[:])

	t.Run("non-member asks for an upload URL", func(t *testing.T) {
		_, err := ce.RequestUpload(ctx, group, "m-eve-1", int64(len(blob)), digest, "file")
		wantCode(t, err, protocol.CodeNotMember)
		_, _, err = ce.SendFile(ctx, group, blob, client.File{Name: "spam.bin"})
		wantCode(t, err, protocol.CodeNotMember)
		// Nor may eve claim an upload done in the group.
		wantCode(t, ce.CompleteUpload(ctx, group, m.ID, int64(len(obj)), m.SHA256), protocol.CodeNotMember)
	})
	t.Run("non-member asks for a download URL", func(t *testing.T) {
		_, err := ce.RequestDownload(ctx, group, m.ID)
		wantCode(t, err, protocol.CodeNotMember)
		_, err = ce.Download(ctx, group, m) // even holding the key
		wantCode(t, err, protocol.CodeNotMember)
	})
	t.Run("upload over the size limit", func(t *testing.T) {
		_, err := ca.RequestUpload(ctx, group, "m-big", 4<<20+1, digest, "video")
		wantCode(t, err, protocol.CodeMediaTooLarge)
		_, _, err = ca.SendFile(ctx, group, make([]byte, 5<<20), client.File{Name: "big.mp4", Type: "video/mp4"})
		wantCode(t, err, protocol.CodeMediaTooLarge)
	})
	t.Run("upload larger than declared", func(t *testing.T) {
		g, err := ca.RequestUpload(ctx, group, "m-longer", int64(len(blob)), digest, "file")
		if err != nil {
			t.Fatal(err)
		}
		wantStoreError(t, ca.Put(ctx, g, append(slices.Clip(blob), 0)), http.StatusForbidden, false)
		wantCode(t, ca.CompleteUpload(ctx, group, "m-longer", int64(len(blob)), digest), protocol.CodeMediaMismatch)
	})
	t.Run("upload with another checksum", func(t *testing.T) {
		g, err := ca.RequestUpload(ctx, group, "m-other", int64(len(blob)), digest, "file")
		if err != nil {
			t.Fatal(err)
		}
		other := slices.Clone(blob)
		other[0] ^= 1 // same size, another digest
		wantStoreError(t, ca.Put(ctx, g, other), http.StatusBadRequest, false)
		// Dropping the checksum header does not get around it.
		delete(g.Headers, "X-Amz-Checksum-Sha256")
		if err := ca.Put(ctx, g, other); err == nil {
			t.Error("a PUT without the signed checksum header was taken")
		}
		wantCode(t, ca.CompleteUpload(ctx, group, "m-other", int64(len(blob)), digest), protocol.CodeMediaMismatch)
		// Nor does claiming the other digest once the upload failed.
		otherSum := sha256.Sum256(other)
		wantCode(t, ca.CompleteUpload(ctx, group, "m-other", int64(len(blob)), hex.EncodeToString(otherSum[:])), protocol.CodeMediaMismatch)
	})
	t.Run("expired upload URL", func(t *testing.T) {
		g, err := ca.RequestUpload(ctx, group, "m-late", int64(len(blob)), digest, "file")
		if err != nil {
			t.Fatal(err)
		}
		waitPast(t, g.ExpiresAt)
		wantStoreError(t, ca.Put(ctx, g, blob), http.StatusForbidden, true)
		wantCode(t, ca.CompleteUpload(ctx, group, "m-late", int64(len(blob)), digest), protocol.CodeMediaMismatch)
	})
	t.Run("expired download URL", func(t *testing.T) {
		g, err := cb.RequestDownload(ctx, group, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		waitPast(t, g.ExpiresAt)
		_, err = cb.Get(ctx, g)
		wantStoreError(t, err, http.StatusForbidden, true)
		// A new URL works: the client asks again.
		if data, err := cb.Download(ctx, group, m); err != nil || sha256.Sum256(data) != sha256.Sum256(photo) {
			t.Errorf("download with a new URL after one expired: %v", err)
		}
	})
	t.Run("download of media that does not exist", func(t *testing.T) {
		_, err := cb.RequestDownload(ctx, group, "m-nothing")
		wantCode(t, err, protocol.CodeMediaNotFound)
	})

	if n := e.countMessages(t); n != before {
		t.Errorf("%d messages stored after the refusals, %d before: a refused file left a message", n, before)
	}
	if after := bucketKeys(t, e); !slices.Equal(after, objects) {
		t.Errorf("bucket after the refusals: %v, before: %v", after, objects)
	}
	if n := len(waitMedia(t, wb, group, alice.id, 1)) + len(wb.messages(group, eve.id)); n != 1 {
		t.Errorf("bob holds %d media messages from alice or eve, want alice's one", n)
	}
}

// waitMedia waits until w holds n messages of conv from sender that carry
// media, and returns them.
func waitMedia(t *testing.T, w *watcher, conv, sender string, n int) []*client.Message {
	t.Helper()
	var out []*client.Message
	testenv.Eventually(t, 30*time.Second, 20*time.Millisecond, func() bool {
		out = slices.DeleteFunc(w.messages(conv, sender), func(m *client.Message) bool { return m.Content.Media == nil })
		return len(out) >= n
	}, "%d media messages from %s", n, sender)
	return out
}

// wantCode fails unless err is a protocol error with code.
func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	var pe *protocol.Error
	if !errors.As(err, &pe) || pe.Code != code || pe.Message == "" {
		t.Errorf("got %v, want a %s error with a reason", err, code)
	}
}

// wantStoreError fails unless err is the media store's refusal with
// status (and, if expired, one that says the URL expired).
func wantStoreError(t *testing.T, err error, status int, expired bool) {
	t.Helper()
	var se *client.StoreError
	if !errors.As(err, &se) || se.Status != status || se.Expired() != expired {
		t.Errorf("got %v, want the store's %d refusal (expired: %v)", err, status, expired)
	}
}

// waitPast waits until a presigned URL expiring at at has expired on the
// store's clock (the same machine's; its signature is dated to the second).
func waitPast(t *testing.T, at time.Time) {
	t.Helper()
	if d := time.Until(at); d > mediaURLExpiry+time.Second {
		t.Fatalf("URL expires in %s, want within %s", d, mediaURLExpiry)
	}
	testenv.Eventually(t, mediaURLExpiry+10*time.Second, 50*time.Millisecond, func() bool {
		return time.Now().After(at.Add(1500 * time.Millisecond))
	}, "the URL to expire")
}

func randomBytes(t *testing.T, n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// readObject reads one object of the test's media bucket.
func readObject(t *testing.T, e *env, key string) []byte {
	t.Helper()
	c, err := e.s3.Client()
	if err != nil {
		t.Fatal(err)
	}
	o, err := c.GetObject(context.Background(), e.s3.Bucket, key, minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(o); err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	return b.Bytes()
}

// bucketKeys lists the keys of the test's media bucket, sorted.
func bucketKeys(t *testing.T, e *env) []string {
	t.Helper()
	c, err := e.s3.Client()
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for o := range c.ListObjects(context.Background(), e.s3.Bucket, minio.ListObjectsOptions{Recursive: true}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		keys = append(keys, o.Key)
	}
	slices.Sort(keys)
	return keys
}
