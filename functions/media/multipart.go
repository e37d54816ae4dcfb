package function

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/agentchat/agentchat/sdk/events"
)

// A blob over MEDIA_MULTIPART_THRESHOLD is uploaded in parts. What the
// client declares and what media verifies (docs/protocol.md, "Large
// files"):
//
//   - upload.requested declares the whole blob's size and SHA-256, as for
//     one PUT. Media starts an S3 multipart upload with the SHA-256
//     checksum algorithm, tagged pending, the declared digest kept in its
//     metadata, and answers with one presigned UploadPart URL per part,
//     each bound to the part's size (Content-Length is signed).
//   - The client PUTs each part with its own x-amz-checksum-sha256: S3
//     requires one on every part of such an upload and refuses a part
//     whose bytes do not match it. (Media cannot sign it: it learns the
//     parts' digests only afterwards.)
//   - upload.completed declares the size, the whole blob's SHA-256 and the
//     SHA-256 of each part, in order. Media lists the parts S3 holds and
//     completes the upload only when they are exactly the declared parts,
//     in number, order and digest, and add up to the size; S3 then keeps
//     the composite checksum sha256(digest₁‖…‖digestₙ)-n, which media
//     checks against the declared parts again on every later
//     upload.completed.
//
// S3 never computes a multipart object's whole SHA-256, so the digest
// media reports for it is the one declared at upload.requested: the
// parts are verified by S3, the whole by each recipient, who checks the
// blob against the digest in the sender's signed message (as for any
// blob; client.Download).

// partSize is the part size for a blob of size bytes: the configured
// one, raised (to whole MiB) when the blob would need more than
// events.MaxMediaParts parts.
func partSize(size, configured int64) int64 {
	const mib = 1 << 20
	least := (size + events.MaxMediaParts - 1) / events.MaxMediaParts
	least = (least + mib - 1) / mib * mib
	return max(configured, least)
}

// composite is the checksum S3 keeps for an object completed from parts
// whose SHA-256 digests (hex) are parts: the SHA-256 of the digests
// concatenated, base64, then "-" and the number of parts.
func composite(parts []string) (string, error) {
	h := sha256.New()
	for _, p := range parts {
		raw, err := hex.DecodeString(p)
		if err != nil || len(raw) != sha256.Size {
			return "", fmt.Errorf("part digest %q is not a hex sha256", p)
		}
		h.Write(raw)
	}
	return base64.StdEncoding.EncodeToString(h.Sum(nil)) + "-" + strconv.Itoa(len(parts)), nil
}

// uploads lists the multipart uploads in progress for key, oldest first.
func (b *bucket) uploads(ctx context.Context, key string) ([]minio.ObjectMultipartInfo, error) {
	var out []minio.ObjectMultipartInfo
	keyMarker, idMarker := "", ""
	for {
		res, err := b.core.ListMultipartUploads(ctx, b.name, key, keyMarker, idMarker, "", 1000)
		if err != nil {
			return nil, fmt.Errorf("list uploads of %s: %w", key, err)
		}
		for _, u := range res.Uploads {
			if u.Key == key { // the listing is by prefix
				out = append(out, u)
			}
		}
		if !res.IsTruncated {
			break
		}
		keyMarker, idMarker = res.NextKeyMarker, res.NextUploadIDMarker
	}
	slices.SortStableFunc(out, func(a, b minio.ObjectMultipartInfo) int { return a.Initiated.Compare(b.Initiated) })
	return out, nil
}

// startMultipart returns the id of a multipart upload to key: the oldest
// one in progress (so that a repeated upload request, or one redelivered,
// hands out URLs for the same upload and no part already sent is lost),
// or a new one with the SHA-256 checksum algorithm, tagged pending and
// keeping sha256Hex in its metadata.
func (b *bucket) startMultipart(ctx context.Context, key, sha256Hex, state string) (string, error) {
	ups, err := b.uploads(ctx, key)
	if err != nil {
		return "", err
	}
	if len(ups) > 0 {
		return ups[0].UploadID, nil
	}
	id, err := b.core.NewMultipartUpload(ctx, b.name, key, minio.PutObjectOptions{
		UserTags: map[string]string{tagKey: state},
		UserMetadata: map[string]string{
			"X-Amz-Checksum-Algorithm": "SHA256",
			metaSHA256:                 sha256Hex,
		},
	})
	if err != nil {
		return "", fmt.Errorf("start upload of %s: %w", key, err)
	}
	return id, nil
}

// presignParts returns a presigned UploadPart URL for each part of a blob
// of size bytes in parts of partBytes (the last one shorter), each bound
// to its part's length.
func (b *bucket) presignParts(ctx context.Context, key, uploadID string, size, partBytes int64, expiry time.Duration) ([]events.MediaPart, error) {
	var parts []events.MediaPart
	for off, n := int64(0), 1; off < size; off, n = off+partBytes, n+1 {
		length := min(partBytes, size-off)
		q := url.Values{"partNumber": {strconv.Itoa(n)}, "uploadId": {uploadID}}
		h := http.Header{}
		h.Set("Content-Length", strconv.FormatInt(length, 10))
		u, err := b.signer.PresignHeader(ctx, http.MethodPut, b.name, key, expiry, q, h)
		if err != nil {
			return nil, fmt.Errorf("presign part %d of %s: %w", n, key, err)
		}
		parts = append(parts, events.MediaPart{URL: u.String(), Size: length})
	}
	return parts, nil
}

// completeMultipart looks for the upload in progress to key whose parts
// are exactly the declared ones (hex SHA-256 of each, in order) adding up
// to size, and completes it with them. It reports false when no upload
// matches (none in progress, a part missing, another part or digest); it
// aborts nothing, as a non-matching upload may be another device's under
// the same id. Once one is completed, the others are aborted.
func (b *bucket) completeMultipart(ctx context.Context, key string, size int64, declared []string) (bool, error) {
	ups, err := b.uploads(ctx, key)
	if err != nil {
		return false, err
	}
	for i, up := range ups {
		parts, err := b.parts(ctx, key, up.UploadID)
		if err != nil {
			return false, err
		}
		if !partsMatch(parts, size, declared) {
			continue
		}
		done := make([]minio.CompletePart, len(parts))
		for j, p := range parts {
			done[j] = minio.CompletePart{PartNumber: p.PartNumber, ETag: p.ETag, ChecksumSHA256: p.ChecksumSHA256}
		}
		if _, err := b.core.CompleteMultipartUpload(ctx, b.name, key, up.UploadID, done, minio.PutObjectOptions{}); err != nil {
			return false, fmt.Errorf("complete upload of %s: %w", key, err)
		}
		for _, other := range slices.Delete(ups, i, i+1) {
			_ = b.core.AbortMultipartUpload(ctx, b.name, key, other.UploadID) // best effort: MinIO drops stale ones anyway
		}
		return true, nil
	}
	return false, nil
}

// parts lists the parts S3 holds of one upload, in order.
func (b *bucket) parts(ctx context.Context, key, uploadID string) ([]minio.ObjectPart, error) {
	var out []minio.ObjectPart
	marker := 0
	for {
		res, err := b.core.ListObjectParts(ctx, b.name, key, uploadID, marker, 1000)
		if err != nil {
			return nil, fmt.Errorf("list parts of %s: %w", key, err)
		}
		out = append(out, res.ObjectParts...)
		if !res.IsTruncated || len(out) > events.MaxMediaParts {
			return out, nil
		}
		marker = res.NextPartNumberMarker
	}
}

// partsMatch reports whether parts are parts 1..n with the declared
// digests, adding up to size.
func partsMatch(parts []minio.ObjectPart, size int64, declared []string) bool {
	if len(parts) != len(declared) {
		return false
	}
	var total int64
	for i, p := range parts {
		raw, err := hex.DecodeString(declared[i])
		if err != nil || p.PartNumber != i+1 || p.ChecksumSHA256 != base64.StdEncoding.EncodeToString(raw) {
			return false
		}
		total += p.Size
	}
	return total == size
}

// isComposite reports whether an S3 checksum is a checksum of parts'
// checksums ("<base64>-<n>").
func isComposite(sum string) bool { return strings.Contains(sum, "-") }
