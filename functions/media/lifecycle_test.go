package function

import (
	"context"
	"net/http"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/lifecycle"

	"github.com/agentchat/agentchat/sdk/events"
)

// rules returns the bucket's lifecycle rules by id.
func rules(t *testing.T, admin *minio.Client, bucket string) map[string]lifecycle.Rule {
	t.Helper()
	cfg, err := admin.GetBucketLifecycle(context.Background(), bucket)
	if err != nil {
		t.Fatalf("lifecycle of %s: %v", bucket, err)
	}
	out := map[string]lifecycle.Rule{}
	for _, r := range cfg.Rules {
		out[r.ID] = r
	}
	return out
}

// wantPendingRule fails unless the bucket has media's rule expiring
// objects tagged state=pending after days.
func wantPendingRule(t *testing.T, admin *minio.Client, bucket string, days int) {
	t.Helper()
	r, ok := rules(t, admin, bucket)[pendingRuleID]
	if !ok || r.Status != "Enabled" || r.RuleFilter.Tag.Key != "state" || r.RuleFilter.Tag.Value != "pending" ||
		int(r.Expiration.Days) != days {
		t.Errorf("rule %s = %+v (present: %v), want objects tagged state=pending expired after %d days", pendingRuleID, r, ok, days)
	}
}

// objectTag is the object's state tag ("" when it has none).
func objectTag(t *testing.T, admin *minio.Client, bucket, key string) string {
	t.Helper()
	tg, err := admin.GetObjectTagging(context.Background(), bucket, key, minio.GetObjectTaggingOptions{})
	if err != nil {
		t.Fatalf("tags of %s: %v", key, err)
	}
	return tg.ToMap()["state"]
}

// TestLifecycleRuleInstalled: Start installs the rule that expires
// unconfirmed uploads (default 1 day), a restart with another age
// updates it, the bucket's other rules stay, and 0 leaves the bucket's
// lifecycle alone. (Expiring is MinIO's scanner's job, in the background:
// the test checks the rule, not the scanner.)
func TestLifecycleRuleInstalled(t *testing.T) {
	_, admin, bucket := startMedia(t, nil)
	wantPendingRule(t, admin, bucket, 1)

	// An operator's own rule, then a restart with another age.
	cfg, err := admin.GetBucketLifecycle(context.Background(), bucket)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Rules = append(cfg.Rules, lifecycle.Rule{ID: "operator-tmp", Status: "Enabled",
		RuleFilter: lifecycle.Filter{Prefix: "tmp/"}, Expiration: lifecycle.Expiration{Days: 7}})
	if err := admin.SetBucketLifecycle(context.Background(), bucket, cfg); err != nil {
		t.Fatal(err)
	}
	startMedia(t, map[string]string{"S3_BUCKET": bucket, "MEDIA_PENDING_EXPIRY_DAYS": "3"})
	wantPendingRule(t, admin, bucket, 3)
	if r, ok := rules(t, admin, bucket)["operator-tmp"]; !ok || r.Expiration.Days != 7 {
		t.Errorf("the operator's rule is gone or changed: %+v", r)
	}

	startMedia(t, map[string]string{"S3_BUCKET": bucket, "MEDIA_PENDING_EXPIRY_DAYS": "0"})
	wantPendingRule(t, admin, bucket, 3)
	if n := len(rules(t, admin, bucket)); n != 2 {
		t.Errorf("%d rules, want the 2 there were", n)
	}
}

// TestUploadsTaggedPendingUntilConfirmed: an upload URL makes its object
// tagged state=pending — the tag is signed, so an uploader can neither
// drop it nor choose another — and media's confirmation retags it stored.
func TestUploadsTaggedPendingUntilConfirmed(t *testing.T) {
	f, admin, bucket := startMedia(t, nil)
	body := []byte("an upload to be confirmed")
	_, d := reply[events.MediaUploadReady](t, f, uploadReq(t, "alice", "conv-1", "media-t", body), events.TypeMediaUploadReady)
	if d.Headers[taggingHeader] != "state=pending" {
		t.Errorf("headers %v, want %s: state=pending", d.Headers, taggingHeader)
	}
	for name, h := range map[string]map[string]string{
		"without the tag":  {checksumHeader: d.Headers[checksumHeader]},
		"with another tag": {checksumHeader: d.Headers[checksumHeader], taggingHeader: "state=stored"},
	} {
		if code, b := do(t, http.MethodPut, d.UploadURL, body, h); code == http.StatusOK {
			t.Errorf("PUT %s = 200 %s, want a refusal", name, b)
		}
	}
	if code, b := do(t, http.MethodPut, d.UploadURL, body, d.Headers); code != http.StatusOK {
		t.Fatalf("PUT = %d %s", code, b)
	}
	if tag := objectTag(t, admin, bucket, "conv-1/media-t"); tag != "pending" {
		t.Errorf("tag before confirmation = %q, want pending", tag)
	}
	for range 2 { // a repeated confirmation changes nothing
		reply[events.MediaStored](t, f, completeReq(t, "alice", "conv-1", "media-t", int64(len(body)), digest(body)), events.TypeMediaStored)
		if tag := objectTag(t, admin, bucket, "conv-1/media-t"); tag != "stored" {
			t.Errorf("tag after confirmation = %q, want stored", tag)
		}
	}
	// A refused confirmation leaves the tag as it was.
	_, d = reply[events.MediaUploadReady](t, f, uploadReq(t, "alice", "conv-1", "media-u", body), events.TypeMediaUploadReady)
	if code, b := do(t, http.MethodPut, d.UploadURL, body, d.Headers); code != http.StatusOK {
		t.Fatalf("PUT = %d %s", code, b)
	}
	rejected(t, f, completeReq(t, "alice", "conv-1", "media-u", int64(len(body)), digest([]byte("another"))), "media_mismatch")
	if tag := objectTag(t, admin, bucket, "conv-1/media-u"); tag != "pending" {
		t.Errorf("tag after a refused confirmation = %q, want pending", tag)
	}
}

// TestReuploadKeepsAConfirmedFileStored: a member who downloaded a
// confirmed file knows its bytes, size and digest, and may ask to upload
// them again under the same id (as a retry would). The new grant must not
// put the file back within the reach of the expiry rule (pending), which
// would delete it for everyone.
func TestReuploadKeepsAConfirmedFileStored(t *testing.T) {
	f, admin, bucket := startMedia(t, nil)
	body := []byte("a file alice sent and confirmed")
	_, d := reply[events.MediaUploadReady](t, f, uploadReq(t, "alice", "conv-1", "media-r", body), events.TypeMediaUploadReady)
	if code, b := do(t, http.MethodPut, d.UploadURL, body, d.Headers); code != http.StatusOK {
		t.Fatalf("PUT = %d %s", code, b)
	}
	reply[events.MediaStored](t, f, completeReq(t, "alice", "conv-1", "media-r", int64(len(body)), digest(body)), events.TypeMediaStored)

	_, again := reply[events.MediaUploadReady](t, f, uploadReq(t, "bob", "conv-1", "media-r", body), events.TypeMediaUploadReady)
	if again.Headers[taggingHeader] != "state=stored" {
		t.Errorf("a grant for the confirmed bytes carries %s %q, want state=stored", taggingHeader, again.Headers[taggingHeader])
	}
	if code, b := do(t, http.MethodPut, again.UploadURL, body, again.Headers); code != http.StatusOK {
		t.Fatalf("PUT again = %d %s", code, b)
	}
	if tag := objectTag(t, admin, bucket, "conv-1/media-r"); tag != "stored" {
		t.Errorf("tag after the same bytes were uploaded again = %q, want stored (pending would expire alice's file)", tag)
	}
}
