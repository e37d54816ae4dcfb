package testenv

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
)

func TestS3(t *testing.T) {
	var cfg S3Config
	t.Run("put, get, presigned get", func(t *testing.T) {
		cfg = S3(t)
		c, err := cfg.Client()
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		body := []byte("ciphertext, never plaintext")

		if _, err := c.PutObject(ctx, cfg.Bucket, "media/1", bytes.NewReader(body), int64(len(body)), minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
		obj, err := c.GetObject(ctx, cfg.Bucket, "media/1", minio.GetObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(obj)
		obj.Close()
		if err != nil || !bytes.Equal(got, body) {
			t.Fatalf("GetObject = %q, %v; want %q", got, err, body)
		}

		u, err := c.PresignedGetObject(ctx, cfg.Bucket, "media/1", time.Minute, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.Get(u.String())
		if err != nil {
			t.Fatal(err)
		}
		got, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || err != nil || !bytes.Equal(got, body) {
			t.Fatalf("presigned GET = %d %q, %v; want 200 %q", resp.StatusCode, got, err, body)
		}

		// A tampered signature must be refused: the service checks auth.
		q := u.Query()
		q.Set("X-Amz-Signature", "0000"+q.Get("X-Amz-Signature")[4:])
		u.RawQuery = q.Encode()
		resp, err = http.Get(u.String())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got, want := resp.StatusCode, http.StatusForbidden; got != want {
			t.Errorf("tampered presigned GET = %d, want %d", got, want)
		}
	})
	if cfg.Bucket == "" {
		t.Skip("no s3")
	}

	c, err := cfg.Client()
	if err != nil {
		t.Fatal(err)
	}
	exists, err := c.BucketExists(context.Background(), cfg.Bucket)
	if err != nil || exists {
		t.Errorf("bucket %s exists after the test = %v, %v; want false", cfg.Bucket, exists, err)
	}
}
