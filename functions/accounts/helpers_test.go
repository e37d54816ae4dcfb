package function

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/agentchat/agentchat/sdk/fn/fntest"

	"function/internal/token"
)

// testEnv reads the test services' addresses: skip without MongoDB (fail
// under CI=true); Redis is optional (the in-process limiter is used).
func testEnv(t *testing.T) (mongoURI, redisURL string) {
	t.Helper()
	return fntest.Need(t, "AGENTCHAT_TEST_MONGODB_URI"), os.Getenv("AGENTCHAT_TEST_REDIS_URL")
}

// accounts is a started accounts instance behind a real HTTP server.
type accounts struct {
	t   *testing.T
	f   *Function
	srv *httptest.Server
	db  string
	key token.Key // the signing key (first of ACCOUNTS_SIGNING_KEYS)
	cfg Config
}

// startAccounts starts an instance on a fresh database and Redis prefix
// with the default configuration changed by edit (may be nil), serves it
// through a real HTTP server and waits until it is ready. The database is
// dropped when the test ends. TestStartFromConfig covers Start itself.
func startAccounts(t *testing.T, edit func(*Config)) *accounts {
	t.Helper()
	mongoURI, redisURL := testEnv(t)
	key, err := token.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	db := fmt.Sprintf("acct_%d", time.Now().UnixNano())
	c, err := loadConfig(map[string]string{
		"MONGODB_URI": mongoURI, "MONGODB_DATABASE": db, "REDIS_URL": redisURL, "REDIS_PREFIX": "test:" + db + ":",
		"ACCOUNTS_SIGNING_KEYS": token.FormatKey(key), "ALLOWED_ORIGINS": "http://chat.example", "LOG_LEVEL": "WARN",
	})
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(&c)
	}
	if err := c.check(); err != nil {
		t.Fatal(err)
	}
	if keys, err := token.ParseKeys(c.SigningKeys); err == nil {
		key = keys[0]
	}
	a := &accounts{t: t, f: New(), db: db, key: key}
	a.srv = httptest.NewServer(http.HandlerFunc(a.f.Handle))
	t.Cleanup(func() {
		a.srv.Close()
		ctx := context.Background()
		a.f.Stop(ctx)
		if c, err := mongo.Connect(options.Client().ApplyURI(mongoURI)); err == nil {
			c.Database(db).Drop(ctx)
			c.Disconnect(ctx)
		}
	})
	if err := a.f.start(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	a.cfg = c
	eventually(t, 30*time.Second, func() bool { ok, _ := a.f.Ready(context.Background()); return ok })
	return a
}

// eventually polls cond until it holds or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v", timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// response is one answer of the API.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// problem decodes a problem answer, checking its media type and status.
func (r response) problem(t *testing.T, status int) Problem {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d (%s), want %d", r.status, r.body, status)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type %q, want application/problem+json", ct)
	}
	var p Problem
	r.decode(t, &p)
	if p.Status != status || p.Type == "" || p.Title == "" {
		t.Errorf("problem %+v: want status %d, a type and a title", p, status)
	}
	return p
}

// call sends a JSON request (body nil: none; string: sent as is).
func (a *accounts) call(method, path, accessToken string, body any) response {
	a.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			a.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, a.srv.URL+path, rd)
	if err != nil {
		a.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if accessToken != "" {
		req.Header.Set("Authorization", "Bearer "+accessToken)
	}
	return a.send(req)
}

func (a *accounts) send(req *http.Request) response {
	a.t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: raw}
}

// must asserts the status and decodes the body into v (if not nil).
func (a *accounts) must(r response, status int, v any) {
	a.t.Helper()
	if r.status != status {
		a.t.Fatalf("status %d (%s), want %d", r.status, r.body, status)
	}
	if v != nil {
		r.decode(a.t, v)
	}
}

// newKey is a device's X25519 public key, base64 std.
func newKey(t *testing.T) string {
	t.Helper()
	k, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(k.PublicKey().Bytes())
}

// signup creates a user and returns its id.
func (a *accounts) signup(username string) string {
	a.t.Helper()
	var out struct{ UserID string }
	a.must(a.call("POST", "/v1/signup", "", map[string]string{"username": username, "password": "password-" + username}), http.StatusCreated, &out)
	return out.UserID
}

// login logs username in on a new device.
func (a *accounts) login(username string) sessionResponse {
	a.t.Helper()
	var s sessionResponse
	a.must(a.call("POST", "/v1/login", "", map[string]string{
		"username": username, "password": "password-" + username, "publicKey": newKey(a.t), "deviceName": "test",
	}), http.StatusOK, &s)
	return s
}

// user signs up and logs in.
func (a *accounts) user(username string) sessionResponse {
	a.t.Helper()
	a.signup(username)
	return a.login(username)
}
