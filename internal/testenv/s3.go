package testenv

import (
	"context"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3Config is where a test's objects go: a MinIO endpoint (host:port, plain
// HTTP), its credentials and a bucket of the test's own.
type S3Config struct {
	Endpoint  string
	AccessKey string
	SecretKey string
	Bucket    string
}

// Client returns a minio-go client for c.
func (c S3Config) Client() (*minio.Client, error) {
	return minio.New(c.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(c.AccessKey, c.SecretKey, "")})
}

// S3 returns the test S3 service with a new, empty bucket no other test
// uses. The bucket and everything in it are removed when the test ends.
func S3(t testing.TB) S3Config {
	t.Helper()
	cfg := S3Config{
		Endpoint:  Env(t, EnvS3Endpoint),
		AccessKey: Env(t, EnvS3AccessKey),
		SecretKey: Env(t, EnvS3SecretKey),
		// Bucket names: 3 to 63 of [a-z0-9-], starting with a letter or digit.
		Bucket: "t-" + unique(t, '-', 61),
	}
	c, err := cfg.Client()
	if err != nil {
		t.Fatalf("testenv: s3 at %s: %v", cfg.Endpoint, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.MakeBucket(ctx, cfg.Bucket, minio.MakeBucketOptions{}); err != nil {
		t.Fatalf("testenv: s3 at %s: make bucket %s: %v", cfg.Endpoint, cfg.Bucket, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// ForceDelete is MinIO's way to remove a bucket with its objects.
		if err := c.RemoveBucketWithOptions(ctx, cfg.Bucket, minio.RemoveBucketOptions{ForceDelete: true}); err != nil {
			t.Errorf("testenv: remove s3 bucket %s: %v", cfg.Bucket, err)
		}
	})
	return cfg
}
