package function

import (
	"bytes"
	"context"
	"crypto/sha256"
	"net/http"
	"net/url"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/minio/minio-go/v7"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/protocol"
)

// multipartEnv lowers the multipart threshold and the part size to S3's
// minimum part, so that a blob just over 5 MiB goes in two parts.
var multipartEnv = map[string]string{"MEDIA_MULTIPART_THRESHOLD": "5242880", "MEDIA_PART_SIZE": "5242880"}

// putParts PUTs each part of blob to its URL with the part's checksum
// header (as a client does) and returns the parts' hex digests.
func putParts(t *testing.T, d events.MediaUploadReady, blob []byte) []string {
	t.Helper()
	var sums []string
	off := int64(0)
	for i, p := range d.Parts {
		part := blob[off : off+p.Size]
		off += p.Size
		sum := sha256.Sum256(part)
		if code, b := do(t, http.MethodPut, p.URL, part, map[string]string{checksumHeader: b64(sum[:])}); code != http.StatusOK {
			t.Fatalf("PUT part %d = %d %.300s", i+1, code, b)
		}
		sums = append(sums, digest(part))
	}
	if off != int64(len(blob)) {
		t.Fatalf("the parts cover %d bytes of %d", off, len(blob))
	}
	return sums
}

func completeParts(t *testing.T, user, conv, mediaID string, blob []byte, parts []string) event.Event {
	return from(t, user, conv, events.TypeMediaUploadCompleted,
		events.MediaStored{MediaID: mediaID, Size: int64(len(blob)), SHA256: digest(blob), Parts: parts})
}

// uploadID is the uploadId a part URL is for.
func uploadID(t *testing.T, raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get("uploadId")
}

// TestMultipartUpload: a blob just over the threshold gets presigned
// UploadPart URLs, each bound to its part's size; S3 refuses a part
// without its checksum or with a wrong one; media completes the upload
// only with exactly the declared parts, then reports the whole blob's
// digest, retags the object stored, and hands out a GET URL for it.
func TestMultipartUpload(t *testing.T) {
	f, admin, bucket := startMedia(t, multipartEnv)
	blob := bytes.Repeat([]byte("0123456789abcdef"), (5<<20+1024)/16)
	key := "conv-1/media-big"

	_, d := reply[events.MediaUploadReady](t, f, uploadReq(t, "alice", "conv-1", "media-big", blob), events.TypeMediaUploadReady)
	if d.UploadURL != "" || len(d.Parts) != 2 || d.Parts[0].Size != 5<<20 || d.Parts[1].Size != 1024 {
		t.Fatalf("answer: url %q, %d parts %+v; want 2 parts of 5 MiB and 1 KiB", d.UploadURL, len(d.Parts), d.Parts)
	}
	// A repeated request (a resend, a redelivery) is the same upload.
	_, again := reply[events.MediaUploadReady](t, f, uploadReq(t, "alice", "conv-1", "media-big", blob), events.TypeMediaUploadReady)
	if id := uploadID(t, d.Parts[0].URL); id == "" || uploadID(t, again.Parts[1].URL) != id {
		t.Errorf("a repeated request started another upload")
	}

	part1 := blob[:5<<20]
	sum1 := sha256.Sum256(part1)
	wrong := sha256.Sum256(blob[1:])
	for name, h := range map[string]map[string]string{
		"without a checksum":    nil,
		"with a wrong checksum": {checksumHeader: b64(wrong[:])},
	} {
		if code, b := do(t, http.MethodPut, d.Parts[0].URL, part1, h); code == http.StatusOK {
			t.Errorf("PUT part 1 %s = 200 %s, want a refusal", name, b)
		}
	}
	if code, _ := do(t, http.MethodPut, d.Parts[0].URL, part1[1:], map[string]string{checksumHeader: b64(sum1[:])}); code == http.StatusOK {
		t.Errorf("a part shorter than signed was taken")
	}
	// Not complete until every part is in.
	rejected(t, f, completeParts(t, "alice", "conv-1", "media-big", blob, []string{digest(part1), digest(blob[5<<20:])}), protocol.CodeMediaMismatch)

	parts := putParts(t, d, blob)
	// Other digests than the parts', or none, complete nothing.
	rejected(t, f, completeParts(t, "alice", "conv-1", "media-big", blob, []string{parts[1], parts[0]}), protocol.CodeMediaMismatch)
	rejected(t, f, completeParts(t, "alice", "conv-1", "media-big", blob, parts[:1]), protocol.CodeMediaMismatch)
	rejected(t, f, completeReq(t, "alice", "conv-1", "media-big", int64(len(blob)), digest(blob)), protocol.CodeMediaMismatch)
	if _, err := admin.StatObject(context.Background(), bucket, key, minio.StatObjectOptions{}); err == nil {
		t.Fatal("a refused completion made the object")
	}

	for range 2 { // the second: a redelivered completion
		_, st := reply[events.MediaStored](t, f, completeParts(t, "alice", "conv-1", "media-big", blob, parts), events.TypeMediaStored)
		if st.Size != int64(len(blob)) || st.SHA256 != digest(blob) {
			t.Errorf("stored %d bytes of %s, want %d of %s", st.Size, st.SHA256, len(blob), digest(blob))
		}
	}
	if tag := objectTag(t, admin, bucket, key); tag != "stored" {
		t.Errorf("tag = %q, want stored", tag)
	}
	info, err := admin.StatObject(context.Background(), bucket, key, minio.StatObjectOptions{Checksum: true})
	if want, _ := composite(parts); err != nil || info.ChecksumSHA256 != want {
		t.Errorf("S3's checksum %q (%v), want the parts' composite %s", info.ChecksumSHA256, err, want)
	}
	// Claiming other parts of the completed object is refused.
	rejected(t, f, completeParts(t, "alice", "conv-1", "media-big", blob, []string{parts[0], parts[0]}), protocol.CodeMediaMismatch)

	_, dl := reply[events.MediaDownloadReady](t, f, downloadReq(t, "bob", "conv-1", "media-big"), events.TypeMediaDownloadReady)
	if dl.Size != int64(len(blob)) || dl.SHA256 != digest(blob) {
		t.Errorf("download ready: %d bytes of %s, want %d of %s", dl.Size, dl.SHA256, len(blob), digest(blob))
	}
	if code, got := do(t, http.MethodGet, dl.DownloadURL, nil, nil); code != http.StatusOK || !bytes.Equal(got, blob) {
		t.Errorf("GET = %d with %d bytes, want the %d uploaded", code, len(got), len(blob))
	}
	// No upload is left in progress.
	if ups, err := f.current().bucket.uploads(context.Background(), key); err != nil || len(ups) != 0 {
		t.Errorf("%d uploads left in progress (%v)", len(ups), err)
	}
}

// TestMultipartOnlyOverThreshold: a blob of exactly the threshold is
// one PUT, tagged pending like any other.
func TestMultipartOnlyOverThreshold(t *testing.T) {
	f, admin, bucket := startMedia(t, multipartEnv)
	blob := make([]byte, 5<<20)
	_, d := reply[events.MediaUploadReady](t, f, uploadReq(t, "alice", "conv-1", "media-edge", blob), events.TypeMediaUploadReady)
	if d.UploadURL == "" || len(d.Parts) != 0 {
		t.Fatalf("answer: url %q and %d parts, want one URL", d.UploadURL, len(d.Parts))
	}
	if code, b := do(t, http.MethodPut, d.UploadURL, blob, d.Headers); code != http.StatusOK {
		t.Fatalf("PUT = %d %.300s", code, b)
	}
	if tag := objectTag(t, admin, bucket, "conv-1/media-edge"); tag != "pending" {
		t.Errorf("tag = %q, want pending", tag)
	}
}

func TestPartSize(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct{ size, configured, want int64 }{
		{100 * mib, 16 * mib, 16 * mib},
		{16000 * mib, 16 * mib, 16 * mib},
		{16000*mib + 1, 16 * mib, 17 * mib},
		{5 << 30, 5 * mib, 6 * mib},
	} {
		got := partSize(c.size, c.configured)
		if got != c.want || (c.size+got-1)/got > events.MaxMediaParts {
			t.Errorf("partSize(%d, %d) = %d, want %d (at most %d parts)", c.size, c.configured, got, c.want, events.MaxMediaParts)
		}
	}
}
