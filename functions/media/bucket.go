package function

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// bucket is media's S3 adapter: one bucket, objects keyed by
// conversation/mediaId. It never reads or writes object content; clients
// PUT and GET the (already encrypted) bytes straight to and from S3 with
// presigned URLs.
type bucket struct {
	client *minio.Client // talks to S3
	core   minio.Core    // client's lower-level API (multipart uploads)
	signer *minio.Client // presigns for the address clients use; may be client
	name   string
}

func newBucket(c Config) (*bucket, error) {
	open := func(endpoint string, ssl bool) (*minio.Client, error) {
		return minio.New(endpoint, &minio.Options{
			Creds:  credentials.NewStaticV4(c.S3AccessKey, c.S3SecretKey, ""),
			Secure: ssl,
			Region: c.S3Region,
		})
	}
	client, err := open(c.S3Endpoint, c.S3UseSSL)
	if err != nil {
		return nil, fmt.Errorf("s3 client: %w", err)
	}
	signer := client
	if c.PublicEndpoint != "" {
		if signer, err = open(c.PublicEndpoint, c.PublicUseSSL); err != nil {
			return nil, fmt.Errorf("s3 public client: %w", err)
		}
	}
	return &bucket{client: client, core: minio.Core{Client: client}, signer: signer, name: c.Bucket}, nil
}

// objectKey is where a media object lives. The same (conversation, mediaId)
// always gives the same key, which makes a redelivered request harmless,
// and a download names the conversation whose membership media checked.
func objectKey(conversation, mediaID string) string {
	return conversation + "/" + mediaID
}

// ensure creates the bucket unless it exists. Two replicas racing to
// create it are fine: the loser sees "already owned by you".
func (b *bucket) ensure(ctx context.Context) error {
	ok, err := b.client.BucketExists(ctx, b.name)
	if err != nil {
		return fmt.Errorf("bucket %s: %w", b.name, err)
	}
	if ok {
		return nil
	}
	err = b.client.MakeBucket(ctx, b.name, minio.MakeBucketOptions{})
	if code := minio.ToErrorResponse(err).Code; code == "BucketAlreadyOwnedByYou" || code == "BucketAlreadyExists" {
		return nil
	}
	if err != nil {
		return fmt.Errorf("make bucket %s: %w", b.name, err)
	}
	return nil
}

// ping checks that S3 answers and the bucket is there.
func (b *bucket) ping(ctx context.Context) error {
	ok, err := b.client.BucketExists(ctx, b.name)
	switch {
	case err != nil:
		return err
	case !ok:
		return fmt.Errorf("bucket %s is gone", b.name)
	}
	return nil
}

// blob is what S3 says of a stored object: its size and the SHA-256 S3
// computed and checked when it was uploaded (hex; "" when the upload
// carried none, which no URL of media's allows).
//
// An object completed from parts has no SHA-256 of its own in S3, only
// Composite, the checksum of its parts' checksums ("<base64>-<parts>");
// its SHA256 is then the digest declared when the upload was requested,
// which media kept in the object's metadata (multipart.go).
type blob struct {
	Size      int64
	SHA256    string
	Composite string
}

// metaSHA256 is the user metadata (x-amz-meta-sha256) in which a
// multipart object keeps the whole blob's declared digest.
const metaSHA256 = "Sha256"

// stat reports the object at key, and whether it exists. It reads the
// checksum S3 stored with the object, never the object itself.
func (b *bucket) stat(ctx context.Context, key string) (blob, bool, error) {
	info, err := b.client.StatObject(ctx, b.name, key, minio.StatObjectOptions{Checksum: true})
	if err != nil {
		if minio.ToErrorResponse(err).StatusCode == http.StatusNotFound {
			return blob{}, false, nil
		}
		return blob{}, false, fmt.Errorf("stat %s: %w", key, err)
	}
	if isComposite(info.ChecksumSHA256) {
		sum := info.UserMetadata[metaSHA256]
		if raw, err := hex.DecodeString(sum); err != nil || len(raw) != 32 {
			sum = ""
		}
		return blob{Size: info.Size, SHA256: sum, Composite: info.ChecksumSHA256}, true, nil
	}
	sum := ""
	if raw, err := base64.StdEncoding.DecodeString(info.ChecksumSHA256); err == nil && len(raw) == 32 {
		sum = hex.EncodeToString(raw)
	}
	return blob{Size: info.Size, SHA256: sum}, true, nil
}

// checksumHeader is the header that carries a body's SHA-256 to S3.
const checksumHeader = "X-Amz-Checksum-Sha256"

// presignPut returns a URL that lets its holder PUT exactly the blob of
// size bytes whose SHA-256 is sha256Hex at key until it expires, and the
// headers the PUT must carry besides Content-Length. All are signed
// headers: S3 refuses a body of any other length (the signature does not
// match), a PUT without the checksum header or with another one (the
// same), and a body whose digest is not the signed one
// (XAmzContentChecksumMismatch) — verified against MinIO in
// TestUploadBoundToSizeAndChecksum. S3 keeps the checksum with the object,
// which is how complete checks an upload without reading it. The object
// is tagged pending (the tagging header is signed too: the uploader
// cannot leave it off), so that it expires unless complete confirms it
// (lifecycle.go).
// state is the tag it is born with: tagPending, or tagStored when the
// same bytes are there and confirmed already (a re-upload must not put a
// confirmed file back within the rule's reach).
func (b *bucket) presignPut(ctx context.Context, key string, size int64, sha256Hex, state string, expiry time.Duration) (string, map[string]string, error) {
	raw, err := hex.DecodeString(sha256Hex)
	if err != nil {
		return "", nil, fmt.Errorf("presign %s: sha256: %w", key, err)
	}
	sum := base64.StdEncoding.EncodeToString(raw)
	h := http.Header{}
	h.Set("Content-Length", strconv.FormatInt(size, 10))
	h.Set(checksumHeader, sum)
	tagging := tagKey + "=" + state // x-amz-tagging is URL-query encoded
	h.Set(taggingHeader, tagging)
	u, err := b.signer.PresignHeader(ctx, http.MethodPut, b.name, key, expiry, nil, h)
	if err != nil {
		return "", nil, fmt.Errorf("presign %s: %w", key, err)
	}
	return u.String(), map[string]string{checksumHeader: sum, taggingHeader: tagging}, nil
}

// presignGet returns a URL that lets its holder GET the object at key
// until it expires.
func (b *bucket) presignGet(ctx context.Context, key string, expiry time.Duration) (string, error) {
	u, err := b.signer.PresignedGetObject(ctx, b.name, key, expiry, nil)
	if err != nil {
		return "", fmt.Errorf("presign %s: %w", key, err)
	}
	return u.String(), nil
}

// errNotStarted is returned until Start has opened the bucket and the
// directory.
var errNotStarted = errors.New("not started")
