package backing

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(b []byte) (int, error) {
	w.t.Log(string(bytes.TrimRight(b, "\n")))
	return len(b), nil
}

func TestStartEmbedded(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := Start(ctx, Config{DataDir: t.TempDir(), Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	checkRedis(ctx, t, s.RedisURL)
	checkMongo(ctx, t, s.MongoURI)
	if minioBinary("") == "" {
		if s.S3.Enabled() {
			t.Errorf("S3 = %+v without a minio binary, want disabled", s.S3)
		}
		t.Log("no minio binary: media disabled, as intended")
	} else {
		checkS3(ctx, t, s.S3)
	}

	addrs := []string{hostPort(t, s.RedisURL), hostPort(t, s.MongoURI)}
	if s.S3.Enabled() {
		addrs = append(addrs, s.S3.Endpoint)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for _, a := range addrs {
		if c, err := net.DialTimeout("tcp", a, time.Second); err == nil {
			c.Close()
			t.Errorf("%s still accepts connections after Close", a)
		}
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestStartKeepsDataDir(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	cfg := Config{DataDir: dir, RedisURL: "redis://unused:1/0", S3Endpoint: "unused:1", Logger: testLogger(t)}

	s, err := Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	c := mongoClient(t, s.MongoURI)
	if _, err := c.Database("agentchat").Collection("users").InsertOne(ctx, bson.D{{Key: "_id", Value: "u1"}}); err != nil {
		t.Fatal(err)
	}
	c.Disconnect(ctx)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c = mongoClient(t, s.MongoURI)
	defer c.Disconnect(ctx)
	n, err := c.Database("agentchat").Collection("users").CountDocuments(ctx, bson.D{{Key: "_id", Value: "u1"}})
	if err != nil || n != 1 {
		t.Errorf("after a restart on the same data dir: count = %d, %v; want 1", n, err)
	}
}

func TestStartUsesConfigured(t *testing.T) {
	cfg := Config{
		RedisURL:   "redis://redis.example:6379/2",
		MongoURI:   "mongodb://mongo.example:27017/",
		S3Endpoint: "s3.example:443", S3AccessKey: "ak", S3SecretKey: "sk", S3UseSSL: true,
	}
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	s, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got, want := s.RedisURL, cfg.RedisURL; got != want {
		t.Errorf("RedisURL = %q, want %q", got, want)
	}
	if got, want := s.MongoURI, cfg.MongoURI; got != want {
		t.Errorf("MongoURI = %q, want %q", got, want)
	}
	if got, want := s.S3, (S3{Endpoint: "s3.example:443", AccessKey: "ak", SecretKey: "sk", UseSSL: true}); got != want {
		t.Errorf("S3 = %+v, want %+v", got, want)
	}
	if len(s.Embedded) != 0 {
		t.Errorf("Embedded = %v, want none", s.Embedded)
	}
	if es, _ := os.ReadDir(tmp); len(es) != 0 {
		t.Errorf("Start made %s in TMPDIR: nothing embedded should need a data dir", es[0].Name())
	}
}

func TestStartWithoutMinIODisablesMedia(t *testing.T) {
	t.Setenv("AGENTCHAT_CACHE", t.TempDir())
	t.Setenv("PATH", t.TempDir())
	s, err := Start(context.Background(), Config{RedisURL: "redis://x:1/0", MongoURI: "mongodb://x:1/", Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.S3.Enabled() {
		t.Errorf("S3 = %+v, want disabled", s.S3)
	}
}

func TestStartWithBrokenMinIOFails(t *testing.T) {
	bin := t.TempDir() + "/minio"
	if err := os.WriteFile(bin, []byte("#!/bin/sh\necho 'minio: broken on purpose' >&2\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := Start(context.Background(), Config{RedisURL: "redis://x:1/0", MongoURI: "mongodb://x:1/", MinIOBinary: bin})
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("broken on purpose")) {
		t.Errorf("Start with a failing minio: err = %v, want its output in the error", err)
	}
}

func checkRedis(ctx context.Context, t *testing.T, url string) {
	t.Helper()
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opts)
	defer c.Close()
	sub := c.Subscribe(ctx, "agentchat:deliver:c1")
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil {
		t.Fatalf("redis subscribe: %v", err)
	}
	if err := c.Publish(ctx, "agentchat:deliver:c1", "d").Err(); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-sub.Channel():
		if m.Payload != "d" {
			t.Errorf("payload = %q", m.Payload)
		}
	case <-ctx.Done():
		t.Fatal("redis: no message")
	}
	if err := c.Set(ctx, "k", "v", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
}

func mongoClient(t *testing.T, uri string) *mongo.Client {
	t.Helper()
	c, err := mongo.Connect(options.Client().ApplyURI(uri))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func checkMongo(ctx context.Context, t *testing.T, uri string) {
	t.Helper()
	c := mongoClient(t, uri)
	defer c.Disconnect(ctx)
	coll := c.Database("agentchat").Collection("messages")
	if _, err := coll.Indexes().CreateOne(ctx, mongo.IndexModel{
		Keys: bson.D{{Key: "conversation", Value: 1}, {Key: "seq", Value: 1}}, Options: options.Index().SetUnique(true),
	}); err != nil {
		t.Fatal(err)
	}
	doc := bson.D{{Key: "conversation", Value: "c1"}, {Key: "seq", Value: 1}}
	if _, err := coll.InsertOne(ctx, doc); err != nil {
		t.Fatal(err)
	}
	if _, err := coll.InsertOne(ctx, doc); !mongo.IsDuplicateKeyError(err) {
		t.Errorf("duplicate insert: err = %v, want E11000", err)
	}
}

func checkS3(ctx context.Context, t *testing.T, s3 S3) {
	t.Helper()
	if !s3.Enabled() {
		t.Fatal("a minio binary exists but S3 is disabled")
	}
	c, err := minio.New(s3.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(s3.AccessKey, s3.SecretKey, "")})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.MakeBucket(ctx, "agentchat-media", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	body := []byte("sealed media")
	if _, err := c.PutObject(ctx, "agentchat-media", "m1", bytes.NewReader(body), int64(len(body)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	o, err := c.GetObject(ctx, "agentchat-media", "m1", minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if got, err := io.ReadAll(o); err != nil || !bytes.Equal(got, body) {
		t.Errorf("get = %q, %v; want %q", got, err, body)
	}
}

func hostPort(t *testing.T, uri string) string {
	t.Helper()
	u, err := url.Parse(uri)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}
