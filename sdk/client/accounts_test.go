package client

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentchat/agentchat/sdk/e2ee"
)

// fakeAccounts answers the few routes these tests need, the way the
// accounts function does (problem+json errors, rotating refresh tokens).
type fakeAccounts struct {
	refreshes atomic.Int32
	devKey    *e2ee.PrivateKey
	mu        sync.Mutex
	refresh   string
	ttl       int64
}

func (f *fakeAccounts) handler(t *testing.T) http.Handler {
	problem := func(w http.ResponseWriter, status int, detail string) {
		w.Header().Set("Content-Type", "application/problem+json")
		if status == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "7")
		}
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]any{"type": "about:blank", "title": http.StatusText(status), "status": status, "detail": detail})
	}
	tokens := func(w http.ResponseWriter, n int32) {
		f.mu.Lock()
		f.refresh = "r" + string(rune('0'+n))
		json.NewEncoder(w).Encode(Tokens{UserID: "u1", DeviceID: "d1", AccessToken: "a" + string(rune('0'+n)), RefreshToken: f.refresh, ExpiresIn: f.ttl})
		f.mu.Unlock()
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/signup", func(w http.ResponseWriter, r *http.Request) {
		var in map[string]string
		json.NewDecoder(r.Body).Decode(&in)
		if in["username"] == "taken" {
			problem(w, http.StatusConflict, "username taken")
			return
		}
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(map[string]string{"userId": "u-" + in["username"]})
	})
	mux.HandleFunc("POST /v1/login", func(w http.ResponseWriter, r *http.Request) {
		var in map[string]string
		json.NewDecoder(r.Body).Decode(&in)
		if in["password"] != "secret-pw" {
			problem(w, http.StatusTooManyRequests, "slow down")
			return
		}
		if raw, err := base64.StdEncoding.DecodeString(in["publicKey"]); err != nil || len(raw) != 32 {
			problem(w, http.StatusBadRequest, "publicKey required")
			return
		}
		tokens(w, 0)
	})
	mux.HandleFunc("POST /v1/token/refresh", func(w http.ResponseWriter, r *http.Request) {
		var in map[string]string
		json.NewDecoder(r.Body).Decode(&in)
		f.mu.Lock()
		ok := in["refreshToken"] == f.refresh
		f.mu.Unlock()
		if !ok {
			t.Errorf("refresh with a rotated token %q", in["refreshToken"])
			problem(w, http.StatusUnauthorized, "refresh token reused")
			return
		}
		time.Sleep(20 * time.Millisecond) // widen the window for concurrent refreshes
		tokens(w, f.refreshes.Add(1))
	})
	mux.HandleFunc("GET /v1/conversations/{id}/devices", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "" {
			problem(w, http.StatusUnauthorized, "no token")
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"devices": []Device{
			{UserID: "u1", DeviceID: "d1", PublicKey: base64.StdEncoding.EncodeToString(f.devKey.PublicKeyBytes())},
		}})
	})
	mux.HandleFunc("GET /v1/users", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("username") != "bob" {
			problem(w, http.StatusNotFound, "no such user")
			return
		}
		json.NewEncoder(w).Encode(User{UserID: "u-bob", Kind: "user", Username: "bob", Name: "Bob"})
	})
	mux.HandleFunc("GET /v1/conversations/{id}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusBadGateway)
		w.Write([]byte("upstream down"))
	})
	return mux
}

func TestAccounts(t *testing.T) {
	k, _ := e2ee.GenerateKey()
	fa := &fakeAccounts{devKey: k, ttl: 0} // tokens of no lifetime: every Token call refreshes
	srv := httptest.NewServer(fa.handler(t))
	defer srv.Close()
	ctx := context.Background()
	acc := NewAccounts(srv.URL+"/", nil)

	if id, err := acc.Signup(ctx, "ann", "secret-pw", ""); err != nil || id != "u-ann" {
		t.Fatalf("signup: %q, %v", id, err)
	}
	_, err := acc.Signup(ctx, "taken", "secret-pw", "")
	var p *ProblemError
	if !errors.As(err, &p) || p.Status != http.StatusConflict || p.Detail != "username taken" {
		t.Fatalf("signup taken: %v", err)
	}

	_, err = acc.Login(ctx, LoginRequest{Username: "ann", Password: "wrong", PublicKey: k.PublicKey()})
	if !errors.As(err, &p) || p.Status != http.StatusTooManyRequests || p.RetryAfter != 7*time.Second {
		t.Fatalf("rate limited login: %#v", err)
	}
	sess, err := acc.Login(ctx, LoginRequest{Username: "ann", Password: "secret-pw", PublicKey: k.PublicKey()})
	if err != nil {
		t.Fatal(err)
	}
	if sess.UserID() != "u1" || sess.DeviceID() != "d1" {
		t.Fatalf("session %q %q", sess.UserID(), sess.DeviceID())
	}

	// Concurrent callers share refreshes: never two with the same token.
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := sess.Token(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := fa.refreshes.Load(); n != 8 {
		t.Fatalf("%d refreshes", n)
	}

	rs, err := sess.ConversationDevices(ctx, "c1")
	if err != nil || len(rs) != 1 || rs[0].Device != "d1" || !rs[0].PublicKey.Equal(k.PublicKey()) {
		t.Fatalf("directory: %v, %v", rs, err)
	}

	if u, err := sess.FindUser(ctx, "bob"); err != nil || u.UserID != "u-bob" || u.Name != "Bob" {
		t.Fatalf("find bob: %+v, %v", u, err)
	}
	if _, err := sess.FindUser(ctx, "nobody"); !IsStatus(err, http.StatusNotFound) {
		t.Fatalf("find nobody: %v", err)
	}

	_, err = sess.Conversation(ctx, "c1")
	if !IsStatus(err, http.StatusBadGateway) || !errors.As(err, &p) || p.Detail != "upstream down" {
		t.Fatalf("non-problem error: %v", err)
	}
}
