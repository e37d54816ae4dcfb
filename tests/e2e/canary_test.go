package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/agentchat/agentchat/internal/testenv"
	"github.com/agentchat/agentchat/sdk/client"
	"github.com/agentchat/agentchat/sdk/protocol"
)

// TestCanary: messages carrying a unique plaintext marker go through the
// running system — people to people, people to a model agent (whose
// streamed, stored reply repeats the marker) and to the example agent —
// and two files whose bytes and names carry it too (sent with the Go
// client, downloaded and decrypted by their recipients; the second over
// media's multipart threshold, uploaded in parts); then every MongoDB
// collection, every Redis key, every payload published on Redis during
// the run, every object in the media bucket (MinIO; read whole, and no
// upload left unfinished, whose parts S3 could not hand back) and the
// logs of the broker, the connectors and the functions are searched for
// the marker in every form it could take (raw, base64 at each alignment,
// hex): zero hits. Then one message whose "ciphertext" is the plaintext itself — what
// a client that skipped encryption would send, which the server cannot
// tell apart — is found by the same search in MongoDB and in the Redis
// publishes, and a blob uploaded in clear through the same media flow is
// found in MinIO: the search would have caught content sent in clear.
func TestCanary(t *testing.T) {
	// Uploads in parts too: over 5 MiB (S3's smallest part) a blob goes
	// in parts, and the scan reads the object completed from them.
	const threshold = 5 << 20
	ap := startAgentsEnv(t, nil, map[string]map[string]string{"media": {
		"MEDIA_MULTIPART_THRESHOLD": strconv.Itoa(threshold), "MEDIA_PART_SIZE": strconv.Itoa(threshold),
	}}, "media")
	if ap.env.s3.Bucket == "" {
		testenv.Missing(t, "the canary scan covers media: it needs the test S3 service (%s)", testenv.EnvS3Endpoint)
	}
	tap := tapRedis(t, ap.env)
	marker := newMarker("canary")
	ctx := context.Background()

	alice, bob := signedSignup(t, ap.env, "alice"), signedSignup(t, ap.env, "bob") // what they send is signed too
	ca, cb := alice.dial(t, ap.env), bob.dial(t, ap.env)
	wa, wb := watch(ca), watch(cb)
	direct, err := alice.sess.CreateConversation(ctx, "direct", []string{alice.id, bob.id}, "")
	if err != nil {
		t.Fatal(err)
	}
	group := ap.group(t, alice.person, "canary", bob.id, "helper", "calc")

	const n = 10
	for i := range n {
		send(t, ca, wa, direct.ID, fmt.Sprintf("to bob %d: %s", i, marker))
		send(t, cb, wb, direct.ID, fmt.Sprintf("to alice %d: %s", i, marker))
		send(t, ca, wa, group, fmt.Sprintf("to the group %d: %s", i, marker))
	}
	// Everything arrived, and the model agent answered each group message
	// (its echo repeats the marker; the calculator answers too).
	testenv.Eventually(t, 2*time.Minute, 50*time.Millisecond, func() bool {
		return len(wb.messages(direct.ID, alice.id)) == n && len(wa.messages(direct.ID, bob.id)) == n &&
			len(wb.messages(group, alice.id)) == n && len(wb.messages(group, "helper")) == n &&
			len(wb.messages(group, "calc")) == n
	}, "every message and every agent reply delivered")
	for _, m := range wb.messages(group, "helper") {
		if !strings.Contains(m.Content.Text, marker) {
			t.Fatalf("the model agent's reply %q lacks the marker: the scan would prove nothing about replies", m.Content.Text)
		}
	}
	if ms := wb.messages(direct.ID, alice.id); !ms[0].Verified || !wb.messages(group, "helper")[0].Verified {
		t.Fatal("alice's and the agent's messages are not verified: the scan would prove nothing about signed messages")
	}
	testenv.Eventually(t, 30*time.Second, 50*time.Millisecond, func() bool {
		return ap.callState(group, wb.messages(group, alice.id)[n-1].Seq, "helper") == "replied"
	}, "the agent ledger finished")

	// A file, its bytes and its name marked, from alice to bob. (Media
	// requests wait for their answer as long as their context lets them.)
	mctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	file := []byte(strings.Repeat("a file about "+marker+"\n", 2000))
	m, _, err := ca.SendFile(mctx, direct.ID, file, client.File{Name: marker + ".txt", Type: "text/plain"})
	if err != nil {
		t.Fatalf("SendFile: %v", err)
	}
	got := waitMedia(t, wb, direct.ID, alice.id, 1)[0]
	if data, err := cb.Download(mctx, direct.ID, got.Content.Media); err != nil || !bytes.Equal(data, file) || got.Content.Media.Name != m.Name {
		t.Fatalf("bob's download of the marked file: %d bytes, %v", len(data), err)
	}
	// And one over the threshold, uploaded in parts.
	large := bytes.Repeat([]byte("a large file about "+marker+"\n"), threshold/40)
	if len(large) <= threshold {
		t.Fatalf("the large file is %d bytes, want over %d", len(large), threshold)
	}
	if _, _, err := cb.SendFile(mctx, direct.ID, large, client.File{Name: marker + ".mov", Type: "video/quicktime"}); err != nil {
		t.Fatalf("SendFile in parts: %v", err)
	}
	gotLarge := waitMedia(t, wa, direct.ID, bob.id, 1)[0]
	if data, err := ca.Download(mctx, direct.ID, gotLarge.Content.Media); err != nil || !bytes.Equal(data, large) {
		t.Fatalf("alice's download of the marked file in parts: %d bytes, %v", len(data), err)
	}
	if info := statChecksum(t, ap.env, direct.ID+"/"+gotLarge.Content.Media.ID); !strings.HasSuffix(info, "-2") {
		t.Fatalf("the large file's object has checksum %q, want a composite of 2 parts: it did not go in parts", info)
	}

	scan := scanSinks(t, ap.env, tap, marker)
	t.Logf("canary scan: %s", scan)
	if len(scan.hits) > 0 {
		t.Errorf("plaintext found on the server side:\n  %s", strings.Join(scan.hits, "\n  "))
	}
	if scan.docs == 0 || scan.publishes == 0 || scan.keys == 0 || scan.logBytes == 0 || scan.objects < 2 {
		t.Errorf("the scan saw too little to mean anything: %s", scan)
	}
	if scan.unfinished > 0 {
		// S3 lists no object for an upload in parts never completed, and
		// has no way to read its parts: the scan would not have read them.
		t.Errorf("%d uploads in parts left unfinished in the bucket: bytes the scan could not read", scan.unfinished)
	}

	// The control: the same search finds content sent in clear.
	control := newMarker("control")
	// A blob uploaded in clear: a client that skipped SealMedia. The
	// server cannot tell (it sees a size and a digest), the scan must.
	// (Before the raw socket below, which replaces alice's client.)
	inClear := []byte("uploaded in clear: " + control + " (a client that skipped encryption)")
	sum := sha256.Sum256(inClear)
	digest := hex.EncodeToString(sum[:])
	g, err := ca.RequestUpload(mctx, direct.ID, "m-in-clear", int64(len(inClear)), digest, "file")
	if err != nil {
		t.Fatal(err)
	}
	if err := ca.Put(mctx, g, inClear); err != nil {
		t.Fatal(err)
	}
	if err := ca.CompleteUpload(mctx, direct.ID, "m-in-clear", int64(len(inClear)), digest); err != nil {
		t.Fatal(err)
	}

	tok, err := alice.sess.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ws, _, err := dialRaw(ap.env.p.ConnectorURLs()[0], tok)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	expectFrame(t, ws, protocol.TypeHello)
	env := sealFor(t, ctx, alice.person, direct.ID, "in-clear-1")
	env.Ciphertext = []byte("sent in clear: " + control + " (a client that skipped encryption)")
	if err := ws.WriteJSON(protocol.Frame{Type: protocol.TypeSend, ID: "in-clear-1", Conversation: direct.ID, Envelope: env}); err != nil {
		t.Fatal(err)
	}
	expectFrame(t, ws, protocol.TypeStored)
	testenv.Eventually(t, 30*time.Second, 50*time.Millisecond, func() bool {
		for _, p := range tap.payloads() {
			if containsAny([]byte(p), needles(control)) {
				return true
			}
		}
		return false
	}, "the message in clear published to bob's connector")

	found := scanSinks(t, ap.env, tap, control)
	t.Logf("control scan: %s", found)
	for _, sink := range []string{"mongodb", "redis publish", "minio"} {
		if !slices.ContainsFunc(found.hits, func(h string) bool { return strings.HasPrefix(h, sink) }) {
			t.Errorf("content sent in clear was not found in %s: the scan is blind there", sink)
		}
	}
}

// group reads better than a bare string in the test above.
type conversationID string

func (c conversationID) ID() string { return string(c) }

// newMarker is a marker no process could produce by chance.
func newMarker(kind string) string {
	b := make([]byte, 12)
	rand.Read(b)
	return kind + "-" + hex.EncodeToString(b)
}

// needles are every form marker can take at rest, on the wire or in a
// log: itself, hex, and standard and URL base64 at each of the three byte
// alignments (only the characters that marker's bytes alone determine).
func needles(marker string) [][]byte {
	m := []byte(marker)
	out := [][]byte{m, []byte(hex.EncodeToString(m)), []byte(strings.ToUpper(hex.EncodeToString(m)))}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
		for k := range 3 {
			b := enc.EncodeToString(append(make([]byte, k), m...))
			first := (k + 2) / 3 * 4     // the first group of marker bytes only
			last := (k + len(m)) / 3 * 4 // the end of the last whole group
			out = append(out, []byte(b[first:last]))
		}
	}
	return out
}

func containsAny(b []byte, ns [][]byte) bool {
	return slices.ContainsFunc(ns, func(n []byte) bool { return bytes.Contains(b, n) })
}

// TestNeedles: the search finds a marker inside base64 and hex of any
// surrounding bytes.
func TestNeedles(t *testing.T) {
	marker := newMarker("m")
	ns := needles(marker)
	for pre := range 3 {
		raw := append(append(bytes.Repeat([]byte{0xA5}, pre), marker...), 0x5A, 0x01)
		for name, enc := range map[string]string{
			"std": base64.StdEncoding.EncodeToString(raw), "url": base64.RawURLEncoding.EncodeToString(raw),
			"hex": hex.EncodeToString(raw), "raw": string(raw),
		} {
			if !containsAny([]byte(`{"ct":"`+enc+`"}`), ns) {
				t.Errorf("%s with %d bytes before: not found", name, pre)
			}
		}
	}
	if containsAny([]byte(base64.StdEncoding.EncodeToString([]byte(newMarker("m")))), ns) {
		t.Error("another marker matched")
	}
}

// redisTap keeps every message published on the test's Redis server
// (every channel) from its start on.
type redisTap struct {
	mu   sync.Mutex
	msgs []string // channel + " " + payload
}

func tapRedis(t *testing.T, e *env) *redisTap {
	t.Helper()
	opts, err := redis.ParseURL(e.p.FunctionEnv()["REDIS_URL"])
	if err != nil {
		t.Fatal(err)
	}
	rc := redis.NewClient(opts)
	ctx, cancel := context.WithCancel(context.Background())
	ps := rc.PSubscribe(ctx, "*")
	if _, err := ps.Receive(ctx); err != nil { // the subscription is live
		t.Fatal(err)
	}
	tap := &redisTap{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m := range ps.Channel(redis.WithChannelSize(100_000)) {
			tap.mu.Lock()
			tap.msgs = append(tap.msgs, m.Channel+" "+m.Payload)
			tap.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		cancel()
		ps.Close()
		<-done
		rc.Close()
	})
	return tap
}

func (r *redisTap) payloads() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.msgs)
}

// scanResult is what a scan looked at and where it found the marker.
type scanResult struct {
	hits                                                  []string // "<sink>: <where>"
	collections, docs, keys, publishes, objects, logBytes int
	objectBytes                                           int64
	unfinished                                            int // uploads in parts never completed (unreadable)
}

func (s scanResult) String() string {
	return fmt.Sprintf("%d MongoDB documents in %d collections, %d Redis keys, %d Redis publishes, %d MinIO objects (%d bytes; %d unfinished uploads), %d bytes of logs: %d hits",
		s.docs, s.collections, s.keys, s.publishes, s.objects, s.objectBytes, s.unfinished, s.logBytes, len(s.hits))
}

// scanSinks searches the test's MongoDB database, its Redis keys, the
// tapped publishes (tap may be nil: none), every object of its media
// bucket (when it has one) and every process's log for marker.
func scanSinks(t *testing.T, e *env, tap *redisTap, marker string) scanResult {
	t.Helper()
	ns := needles(marker)
	ctx := context.Background()
	var res scanResult
	colls, err := e.mongo.ListCollectionNames(ctx, bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	res.collections = len(colls)
	for _, name := range colls {
		cur, err := e.mongo.Collection(name).Find(ctx, bson.D{})
		if err != nil {
			t.Fatal(err)
		}
		for cur.Next(ctx) {
			res.docs++
			if containsAny(cur.Current, ns) {
				res.hits = append(res.hits, fmt.Sprintf("mongodb: %s %v", name, cur.Current.Lookup("_id")))
			}
		}
		cur.Close(ctx)
	}

	fenv := e.p.FunctionEnv()
	opts, err := redis.ParseURL(fenv["REDIS_URL"])
	if err != nil {
		t.Fatal(err)
	}
	rc := redis.NewClient(opts)
	defer rc.Close()
	iter := rc.Scan(ctx, 0, fenv["REDIS_PREFIX"]+"*", 500).Iterator()
	for iter.Next(ctx) {
		key := iter.Val()
		res.keys++
		if val := redisValue(ctx, rc, key); containsAny([]byte(key+"\x00"+val), ns) {
			res.hits = append(res.hits, "redis key: "+key)
		}
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}

	var published []string
	if tap != nil {
		published = tap.payloads()
	}
	for i, p := range published {
		res.publishes++
		if containsAny([]byte(p), ns) {
			channel, _, _ := strings.Cut(p, " ")
			res.hits = append(res.hits, fmt.Sprintf("redis publish: #%d on %s", i, channel))
		}
	}

	if e.s3.Bucket != "" {
		res.unfinished = unfinishedUploads(t, e)
		for _, key := range bucketKeys(t, e) {
			obj := readObject(t, e, key)
			res.objects++
			res.objectBytes += int64(len(obj))
			if containsAny(append([]byte(key+"\x00"), obj...), ns) {
				res.hits = append(res.hits, "minio: "+key)
			}
		}
	}

	logs := e.logs.String()
	res.logBytes = len(logs)
	for i, line := range strings.Split(logs, "\n") {
		if containsAny([]byte(line), ns) {
			res.hits = append(res.hits, fmt.Sprintf("log: line %d: %.120s", i+1, line))
		}
	}
	return res
}

// redisValue reads a key's whole value as text, whatever its type (DUMP
// would compress long strings and hide them).
func redisValue(ctx context.Context, rc *redis.Client, key string) string {
	var parts []string
	switch typ, _ := rc.Type(ctx, key).Result(); typ {
	case "string":
		v, _ := rc.Get(ctx, key).Result()
		parts = append(parts, v)
	case "hash":
		m, _ := rc.HGetAll(ctx, key).Result()
		for k, v := range m {
			parts = append(parts, k, v)
		}
	case "list":
		parts, _ = rc.LRange(ctx, key, 0, -1).Result()
	case "set":
		parts, _ = rc.SMembers(ctx, key).Result()
	case "zset":
		parts, _ = rc.ZRange(ctx, key, 0, -1).Result()
	case "stream":
		xs, _ := rc.XRange(ctx, key, "-", "+").Result()
		for _, x := range xs {
			for k, v := range x.Values {
				parts = append(parts, k, fmt.Sprint(v))
			}
		}
	}
	return strings.Join(parts, "\x00")
}

// unfinishedUploads counts the uploads in parts begun and never completed
// in the test's media bucket.
func unfinishedUploads(t *testing.T, e *env) int {
	t.Helper()
	c, err := e.s3.Client()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for u := range c.ListIncompleteUploads(context.Background(), e.s3.Bucket, "", true) {
		if u.Err != nil {
			t.Fatal(u.Err)
		}
		n++
	}
	return n
}

// statChecksum is the SHA-256 checksum S3 keeps for an object of the
// test's media bucket (a composite "<base64>-<parts>" for one completed
// from parts).
func statChecksum(t *testing.T, e *env, key string) string {
	t.Helper()
	c, err := e.s3.Client()
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.StatObject(context.Background(), e.s3.Bucket, key, minio.StatObjectOptions{Checksum: true})
	if err != nil {
		t.Fatal(err)
	}
	return info.ChecksumSHA256
}
