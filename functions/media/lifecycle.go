package function

import (
	"context"
	"fmt"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/lifecycle"
	"github.com/minio/minio-go/v7/pkg/tags"
)

// Uploads that are never confirmed expire by a bucket lifecycle rule,
// which media owns with the tag it filters on:
//
//   - every upload URL media hands out makes its object tagged
//     state=pending (a signed x-amz-tagging header on a single PUT; the
//     tag given when media starts a multipart upload);
//   - complete, once it has verified an upload, retags it state=stored;
//   - the rule pendingRule expires objects tagged state=pending after
//     MEDIA_PENDING_EXPIRY_DAYS. Expiring is S3's work: MinIO's scanner
//     applies the rule as it passes over the bucket, in the background.
//
// "Confirmed" is the server's nearest sight of "referenced by a message":
// the message that carries a blob is encrypted, so no function can see
// which blobs messages name. A client confirms right before it sends the
// message (SendFile), so a blob confirmed but never sent is the client's
// own leftover, and stays.
//
// Multipart uploads never completed are no objects yet, and S3 cannot
// filter them by tag: MinIO drops them itself after its stale-upload
// expiry (24 h by default); on AWS S3 an operator adds an
// AbortIncompleteMultipartUpload rule (docs/operations.md).
const (
	tagKey         = "state"
	tagPending     = "pending"
	tagStored      = "stored"
	taggingHeader  = "X-Amz-Tagging"
	pendingTagging = tagKey + "=" + tagPending // x-amz-tagging is URL-query encoded

	// pendingRuleID names media's rule among the bucket's others.
	pendingRuleID = "agentchat-media-expire-pending"
)

// pendingRule is the lifecycle rule that expires unconfirmed uploads
// after days.
func pendingRule(days int) lifecycle.Rule {
	return lifecycle.Rule{
		ID:         pendingRuleID,
		Status:     "Enabled",
		RuleFilter: lifecycle.Filter{Tag: lifecycle.Tag{Key: tagKey, Value: tagPending}},
		Expiration: lifecycle.Expiration{Days: lifecycle.ExpirationDays(days)},
	}
}

// ensureLifecycle installs pendingRule(days) in the bucket's lifecycle
// configuration, keeping every other rule there (S3 replaces the whole
// configuration at once, so it is read, changed and written back). It
// writes nothing when the rule is already as wanted, so that every start
// of every replica can call it: replicas racing write the same rule.
//
// Media installs the rule itself, at Start, rather than leaving it to the
// dev runner or a deploy step: media makes the tags the rule filters on
// and reads MEDIA_PENDING_EXPIRY_DAYS, so tags, rule and knob have one
// owner, and a cluster gets the rule with nothing else to run.
func (b *bucket) ensureLifecycle(ctx context.Context, days int) error {
	cfg, err := b.client.GetBucketLifecycle(ctx, b.name)
	if minio.ToErrorResponse(err).Code == "NoSuchLifecycleConfiguration" {
		cfg, err = lifecycle.NewConfiguration(), nil
	}
	if err != nil {
		return fmt.Errorf("lifecycle of %s: %w", b.name, err)
	}
	want := pendingRule(days)
	rules := make([]lifecycle.Rule, 0, len(cfg.Rules)+1)
	for _, r := range cfg.Rules {
		if r.ID != pendingRuleID {
			rules = append(rules, r)
			continue
		}
		if r.Status == want.Status && r.RuleFilter.Tag.Key == tagKey && r.RuleFilter.Tag.Value == tagPending && r.RuleFilter.Prefix == "" &&
			r.RuleFilter.And.IsEmpty() && r.Expiration.Days == want.Expiration.Days {
			return nil // already as wanted
		}
	}
	cfg.Rules = append(rules, want)
	if err := b.client.SetBucketLifecycle(ctx, b.name, cfg); err != nil {
		return fmt.Errorf("set lifecycle of %s: %w", b.name, err)
	}
	return nil
}

// state is the object's state tag (tagPending, tagStored, or "" for none).
func (b *bucket) state(ctx context.Context, key string) (string, error) {
	t, err := b.client.GetObjectTagging(ctx, b.name, key, minio.GetObjectTaggingOptions{})
	if err != nil {
		return "", fmt.Errorf("tags of %s: %w", key, err)
	}
	return t.ToMap()[tagKey], nil
}

// markStored retags the object at key state=stored: out of the rule's
// reach. Idempotent.
func (b *bucket) markStored(ctx context.Context, key string) error {
	t, err := tags.NewTags(map[string]string{tagKey: tagStored}, true)
	if err != nil {
		return err
	}
	if err := b.client.PutObjectTagging(ctx, b.name, key, t, minio.PutObjectTaggingOptions{}); err != nil {
		return fmt.Errorf("tag %s: %w", key, err)
	}
	return nil
}
