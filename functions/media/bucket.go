package function

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// store is media's S3 adapter: one bucket, objects keyed by
// conversation/mediaId. It never reads or writes object content; clients
// PUT the (already encrypted) bytes straight to S3 with a presigned URL.
type store struct {
	client *minio.Client // talks to S3
	signer *minio.Client // presigns for the address clients use; may be client
	bucket string
}

func newStore(c Config) (*store, error) {
	open := func(endpoint string, ssl bool) (*minio.Client, error) {
		return minio.New(endpoint, &minio.Options{
			Creds:  credentials.NewStaticV4(c.S3AccessKey, c.S3SecretKey, ""),
			Secure: ssl,
			Region: c.S3Region,
		})
	}
	client, err := open(c.S3Endpoint, bool(c.S3UseSSL))
	if err != nil {
		return nil, fmt.Errorf("s3 client: %w", err)
	}
	signer := client
	if c.PublicEndpoint != "" {
		if signer, err = open(c.PublicEndpoint, bool(c.PublicUseSSL)); err != nil {
			return nil, fmt.Errorf("s3 public client: %w", err)
		}
	}
	return &store{client: client, signer: signer, bucket: c.Bucket}, nil
}

// objectKey is where a media object lives. The same (conversation, mediaId)
// always gives the same key, which makes a redelivered request harmless.
func objectKey(conversation, mediaID string) string {
	return conversation + "/" + mediaID
}

// ensureBucket creates the bucket unless it exists. Two replicas racing to
// create it are fine: the loser sees "already owned by you".
func (s *store) ensureBucket(ctx context.Context) error {
	ok, err := s.client.BucketExists(ctx, s.bucket)
	if err != nil {
		return fmt.Errorf("bucket %s: %w", s.bucket, err)
	}
	if ok {
		return nil
	}
	err = s.client.MakeBucket(ctx, s.bucket, minio.MakeBucketOptions{})
	if code := minio.ToErrorResponse(err).Code; code == "BucketAlreadyOwnedByYou" || code == "BucketAlreadyExists" {
		return nil
	}
	if err != nil {
		return fmt.Errorf("make bucket %s: %w", s.bucket, err)
	}
	return nil
}

// ping checks that S3 answers and the bucket is there.
func (s *store) ping(ctx context.Context) error {
	ok, err := s.client.BucketExists(ctx, s.bucket)
	switch {
	case err != nil:
		return err
	case !ok:
		return fmt.Errorf("bucket %s is gone", s.bucket)
	}
	return nil
}

// size reports the size of the object at key, and whether it exists.
func (s *store) size(ctx context.Context, key string) (int64, bool, error) {
	info, err := s.client.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{})
	if err == nil {
		return info.Size, true, nil
	}
	if minio.ToErrorResponse(err).StatusCode == http.StatusNotFound {
		return 0, false, nil
	}
	return 0, false, fmt.Errorf("stat %s: %w", key, err)
}

// presignPut returns a URL that lets its holder PUT exactly size bytes at
// key until it expires. Content-Length is a signed header, so S3 refuses
// a body of any other length: the size limit holds at upload time, not
// only in the request event.
func (s *store) presignPut(ctx context.Context, key string, size int64, expiry time.Duration) (string, error) {
	h := http.Header{}
	h.Set("Content-Length", strconv.FormatInt(size, 10))
	u, err := s.signer.PresignHeader(ctx, http.MethodPut, s.bucket, key, expiry, nil, h)
	if err != nil {
		return "", fmt.Errorf("presign %s: %w", key, err)
	}
	return u.String(), nil
}

// errNotStarted is returned until Start has opened the store.
var errNotStarted = errors.New("not started")
