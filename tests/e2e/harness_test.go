// Package e2e runs agentchat end to end: the local broker with the real
// Trigger files, every function as a func-go process, connector processes,
// and real clients (sdk/client) — against the real Redis, MongoDB wire
// server and MinIO that the test command starts.
package e2e

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/agentchat/agentchat/internal/platform"
	"github.com/agentchat/agentchat/internal/testenv"
	"github.com/agentchat/agentchat/sdk/client"
	"github.com/agentchat/agentchat/sdk/e2ee"
)

// logSink keeps every process's output of one test: shown when the test
// fails (or with -v and AGENTCHAT_E2E_LOGS=1), and scanned by canary tests.
type logSink struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (l *logSink) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logSink) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

type env struct {
	p     *platform.Platform
	logs  *logSink
	mongo *mongo.Database
	s3    testenv.S3Config // the media bucket; zero without S3 (media not started)
}

type opts struct {
	connectors int
	redisURL   string // "" = the test command's Redis
	functions  []string
	env        map[string]string
	envFor     map[string]map[string]string // by func name
	webDir     string                       // the web client's folder, served by the connectors
	vapidKey   string                       // the push function's VAPID private key; "": the platform makes one
}

func start(t *testing.T, o opts) *env {
	t.Helper()
	redisURL, prefix := testenv.Redis(t)
	if o.redisURL != "" {
		redisURL = o.redisURL
	}
	mongoURI, db := testenv.Mongo(t)
	logs := &logSink{}
	var w io.Writer = logs
	switch v := os.Getenv("AGENTCHAT_E2E_LOGS"); v {
	case "":
	case "1":
		w = io.MultiWriter(logs, os.Stderr)
	default: // a directory: one file per test, kept
		f, err := os.Create(filepath.Join(v, strings.ReplaceAll(t.Name(), "/", "_")+".log"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		w = io.MultiWriter(logs, f)
	}
	cfg := platform.Config{
		RedisURL: redisURL, RedisPrefix: prefix, MongoURI: mongoURI, Database: db, VAPIDPrivateKey: o.vapidKey,
		Connectors: max(1, o.connectors), Functions: o.functions, Env: withLoopbackUsers(o.env), EnvFor: o.envFor, WebDir: o.webDir,
		LogWriter: w, Logger: slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo})),
	}
	var s3 testenv.S3Config
	if os.Getenv("AGENTCHAT_TEST_S3_ENDPOINT") != "" {
		s3 = testenv.S3(t)
		cfg.S3 = platform.S3{Endpoint: s3.Endpoint, AccessKey: s3.AccessKey, SecretKey: s3.SecretKey, Bucket: s3.Bucket}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	p, err := platform.Start(ctx, cfg)
	if err != nil {
		t.Fatalf("start platform: %v\n%s", err, tail(logs.String(), 60))
	}
	mc, err := mongo.Connect(options.Client().ApplyURI(mongoURI))
	if err != nil {
		t.Fatal(err)
	}
	e := &env{p: p, logs: logs, mongo: mc.Database(db), s3: s3}
	t.Cleanup(func() {
		// Room for the worst case of platform.Close (internal/platform),
		// which stops one stage after the other: the connectors' 15 s
		// grace of SIGTERM (+2 s for funcrunner's goroutine dump before a
		// kill), the broker's drain (DrainTimeout, 20 s) and close (1 s),
		// then the functions' 5 s grace (+2 s): DrainTimeout+25 s, 45 s.
		// The rest is for MongoDB's Disconnect.
		ctx, cancel := context.WithTimeout(context.Background(), platform.DrainTimeout+40*time.Second)
		defer cancel()
		p.Close(ctx)
		mc.Disconnect(ctx)
		if t.Failed() {
			t.Logf("platform output (last lines):\n%s", tail(logs.String(), 150))
		}
	})
	return e
}

// withLoopbackUsers is env plus accounts' registration limits raised:
// every user a test creates signs up and registers its device from this
// machine's one address, far beyond the per-address defaults.
func withLoopbackUsers(env map[string]string) map[string]string {
	out := map[string]string{"REGISTER_RATE": "signup=1000000/1h,device=1000000/1h"}
	maps.Copy(out, env)
	return out
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// person is a signed-up user with one device.
type person struct {
	name string
	id   string
	sess *client.Session
	key  *e2ee.PrivateKey
}

var userSeq struct {
	sync.Mutex
	n int
}

func signup(t *testing.T, e *env, name string) *person {
	t.Helper()
	ctx := context.Background()
	userSeq.Lock()
	userSeq.n++
	name = fmt.Sprintf("%s-%d-%d", name, time.Now().UnixNano()%1e6, userSeq.n)
	userSeq.Unlock()
	acc := client.NewAccounts(e.p.AccountsURL(), nil)
	id, err := acc.Signup(ctx, name, "correct horse battery", name)
	if err != nil {
		t.Fatalf("signup %s: %v", name, err)
	}
	key, _ := e2ee.GenerateKey()
	sess, err := acc.Login(ctx, client.LoginRequest{Username: name, Password: "correct horse battery", PublicKey: key.PublicKey(), DeviceName: "e2e"})
	if err != nil {
		t.Fatalf("login %s: %v", name, err)
	}
	return &person{name: name, id: id, sess: sess, key: key}
}

func (u *person) dial(t *testing.T, e *env, urls ...string) *client.Client {
	t.Helper()
	if len(urls) == 0 {
		urls = e.p.ConnectorURLs()
	}
	c, err := client.Dial(context.Background(), client.Config{URLs: urls, Token: u.sess.Token, User: u.id,
		Device: u.sess.DeviceID(), Key: u.key, Directory: u.sess, AutoDeliveredAck: true, EventBuffer: 8192})
	if err != nil {
		t.Fatalf("dial %s: %v", u.name, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// storedSeqs reads the seqs MongoDB holds for conv, in order.
func (e *env) storedSeqs(t *testing.T, conv string) []int64 {
	t.Helper()
	cur, err := e.mongo.Collection("messages").Find(context.Background(), bson.D{{Key: "conversation", Value: conv}},
		options.Find().SetSort(bson.D{{Key: "seq", Value: 1}}).SetProjection(bson.D{{Key: "seq", Value: 1}}))
	if err != nil {
		t.Fatal(err)
	}
	var docs []struct {
		Seq int64 `bson:"seq"`
	}
	if err := cur.All(context.Background(), &docs); err != nil {
		t.Fatal(err)
	}
	seqs := make([]int64, len(docs))
	for i, d := range docs {
		seqs[i] = d.Seq
	}
	return seqs
}

// checkGapless fails unless seqs is exactly 1..n.
func checkGapless(t *testing.T, conv string, seqs []int64, n int) {
	t.Helper()
	if len(seqs) != n {
		t.Errorf("%s: %d messages stored, want %d", conv, len(seqs), n)
	}
	for i, s := range seqs {
		if s != int64(i+1) {
			t.Errorf("%s: stored seq #%d is %d, want %d (gap or duplicate)", conv, i, s, i+1)
			return
		}
	}
}

// checkStored fails unless conv's stored seqs are exactly 1..m, n of them
// messages and the rest sender key distributions (a group's: each
// sender's first message of an epoch is preceded by one,
// docs/e2ee.md "Sender keys").
func (e *env) checkStored(t *testing.T, conv string, n int) {
	t.Helper()
	checkGapless(t, conv, e.storedSeqs(t, conv), n+e.distributions(t, conv))
}

// distributions counts conv's stored sender key distributions.
func (e *env) distributions(t *testing.T, conv string) int {
	t.Helper()
	d, err := e.mongo.Collection("messages").CountDocuments(context.Background(), bson.D{{Key: "conversation", Value: conv},
		{Key: "clientMessageId", Value: bson.D{{Key: "$regex", Value: "^sk-[0-9a-f]{8}$"}}}})
	if err != nil {
		t.Fatal(err)
	}
	return int(d)
}

// countMessages counts every stored message in the test's database.
func (e *env) countMessages(t *testing.T) int64 {
	n, err := e.mongo.Collection("messages").CountDocuments(context.Background(), bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	return n
}
