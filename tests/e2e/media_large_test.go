package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/agentchat/agentchat/internal/testenv"
	"github.com/agentchat/agentchat/sdk/client"
)

// TestMediaLifecycle: the limits and lifecycle of media with the real
// MinIO. A file just over the multipart threshold (lowered to S3's
// smallest part) goes up in parts through the Go client's ordinary
// SendFile and comes down whole; a download URL that expired before its
// GET is renewed by Download without the caller seeing it; every upload
// is tagged pending until media confirms it, and the bucket carries the
// lifecycle rule that expires pending objects (expiring them is MinIO's
// scanner's work, in the background, and not waited for here).
func TestMediaLifecycle(t *testing.T) {
	const threshold = 5 << 20
	e := start(t, opts{functions: mediaFunctions, envFor: map[string]map[string]string{"media": {
		"MEDIA_MULTIPART_THRESHOLD": strconv.Itoa(threshold), "MEDIA_PART_SIZE": strconv.Itoa(threshold),
		"MEDIA_DOWNLOAD_EXPIRY": "2s", "MEDIA_PENDING_EXPIRY_DAYS": "2",
	}}})
	if e.s3.Bucket == "" {
		testenv.Missing(t, "media needs the test S3 service ("+testenv.EnvS3Endpoint+")")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s3, err := e.s3.Client()
	if err != nil {
		t.Fatal(err)
	}
	alice, bob := signup(t, e, "alice"), signup(t, e, "bob")
	ca := alice.dial(t, e)
	late := &lateGets{}
	cb, err := client.Dial(ctx, client.Config{URLs: e.p.ConnectorURLs(), Token: bob.sess.Token, User: bob.id,
		Device: bob.sess.DeviceID(), Key: bob.key, Directory: bob.sess, AutoDeliveredAck: true, EventBuffer: 8192,
		HTTPClient: &http.Client{Transport: late}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cb.Close() })
	wb := watch(cb)
	watch(ca)
	conv, err := alice.sess.CreateConversation(ctx, "direct", []string{alice.id, bob.id}, "")
	if err != nil {
		t.Fatal(err)
	}

	// Just over the threshold once sealed: two parts, 5 MiB and the rest.
	video := randomBytes(t, threshold+1)
	sent, _, err := ca.SendFile(ctx, conv.ID, video, client.File{Name: "clip.mp4", Type: "video/mp4"})
	if err != nil {
		t.Fatalf("alice's SendFile of %d bytes: %v", len(video), err)
	}
	key := conv.ID + "/" + sent.ID
	info, err := s3.StatObject(ctx, e.s3.Bucket, key, minio.StatObjectOptions{Checksum: true})
	if err != nil || !strings.HasSuffix(info.ChecksumSHA256, "-2") {
		t.Errorf("the object's checksum is %q (%v), want a composite of 2 parts", info.ChecksumSHA256, err)
	}
	if sum := sha256.Sum256(readObject(t, e, key)); hex.EncodeToString(sum[:]) != sent.SHA256 {
		t.Errorf("the object completed from parts is not the blob the message names")
	}
	if tag := stateTag(t, s3, e.s3.Bucket, key); tag != "stored" {
		t.Errorf("the confirmed upload is tagged state=%q, want stored", tag)
	}

	// Bob's first GET reaches the store only once its URL has expired.
	m := waitMedia(t, wb, conv.ID, alice.id, 1)[0].Content.Media
	data, err := cb.Download(ctx, conv.ID, m)
	if err != nil || !bytes.Equal(data, video) {
		t.Fatalf("bob's Download: %d bytes, %v; want the %d sent", len(data), err, len(video))
	}
	if got := late.statuses(); len(got) != 2 || got[0] != http.StatusForbidden || got[1] != http.StatusOK {
		t.Errorf("bob's GETs answered %v, want [403 200]: one expired URL, renewed once", got)
	}

	// An upload never confirmed stays pending, for the rule to expire.
	blob := randomBytes(t, 1000)
	sum := sha256.Sum256(blob)
	g, err := ca.RequestUpload(ctx, conv.ID, "m-unconfirmed", int64(len(blob)), hex.EncodeToString(sum[:]), "file")
	if err != nil {
		t.Fatal(err)
	}
	if err := ca.Put(ctx, g, blob); err != nil {
		t.Fatal(err)
	}
	if tag := stateTag(t, s3, e.s3.Bucket, conv.ID+"/m-unconfirmed"); tag != "pending" {
		t.Errorf("the unconfirmed upload is tagged state=%q, want pending", tag)
	}
	lc, err := s3.GetBucketLifecycle(ctx, e.s3.Bucket)
	if err != nil {
		t.Fatalf("the media bucket's lifecycle: %v", err)
	}
	found := false
	for _, r := range lc.Rules {
		found = found || (r.Status == "Enabled" && r.RuleFilter.Tag.Key == "state" && r.RuleFilter.Tag.Value == "pending" && r.Expiration.Days == 2)
	}
	if !found {
		t.Errorf("no enabled rule expiring state=pending objects after 2 days in %+v", lc.Rules)
	}
}

// stateTag is the object's state tag.
func stateTag(t *testing.T, s3 *minio.Client, bucket, key string) string {
	t.Helper()
	tg, err := s3.GetObjectTagging(context.Background(), bucket, key, minio.GetObjectTaggingOptions{})
	if err != nil {
		t.Fatalf("tags of %s: %v", key, err)
	}
	return tg.ToMap()["state"]
}

// lateGets is a transport that holds the first GET until its presigned
// URL has expired on the store's clock (the same machine's), as a slow
// network would, and records the status of every GET.
type lateGets struct {
	mu   sync.Mutex
	seen []int
}

func (l *lateGets) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodGet {
		l.mu.Lock()
		first := len(l.seen) == 0
		l.mu.Unlock()
		if first {
			q := r.URL.Query()
			signed, err := time.Parse("20060102T150405Z", q.Get("X-Amz-Date"))
			secs, err2 := strconv.Atoi(q.Get("X-Amz-Expires"))
			if err == nil && err2 == nil {
				until := signed.Add(time.Duration(secs)*time.Second + 1500*time.Millisecond)
				for time.Now().Before(until) { // waiting for a condition: the URL's expiry
					select {
					case <-r.Context().Done():
						return nil, r.Context().Err()
					case <-time.After(50 * time.Millisecond):
					}
				}
			}
		}
	}
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err == nil && r.Method == http.MethodGet {
		l.mu.Lock()
		l.seen = append(l.seen, resp.StatusCode)
		l.mu.Unlock()
	}
	return resp, err
}

func (l *lateGets) statuses() []int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]int(nil), l.seen...)
}
