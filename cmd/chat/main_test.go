package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentchat/agentchat/sdk/client"
	"github.com/agentchat/agentchat/sdk/e2ee"
	"github.com/agentchat/agentchat/sdk/protocol"
	"github.com/gorilla/websocket"
)

// fakePlatform answers the accounts routes the CLI uses and plays a
// connector that stores every message it is sent and delivers one message
// from bob, sealed for the CLI's device.
type fakePlatform struct {
	t          *testing.T
	bob        *e2ee.PrivateKey
	bobSign    *e2ee.SigningKey
	mu         sync.Mutex
	devKey     string // the CLI device's public key, from login
	devSign    string // the CLI device's signing key, as registered
	acks       []protocol.Frame
	resumes    []protocol.Frame
	visibility string // set by PUT /v1/me/presence
	accounts   *httptest.Server
	conn       *httptest.Server
}

func newFakePlatform(t *testing.T) *fakePlatform {
	bob, _ := e2ee.GenerateKey()
	bobSign, _ := e2ee.GenerateSigningKey()
	p := &fakePlatform{t: t, bob: bob, bobSign: bobSign}
	writeJSON := func(w http.ResponseWriter, status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(v)
	}
	tokens := map[string]any{"userId": "u-ann", "deviceId": "d-ann", "accessToken": "tok", "refreshToken": "r1", "expiresIn": 900}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/signup", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusCreated, map[string]string{"userId": "u-ann"})
	})
	mux.HandleFunc("POST /v1/login", func(w http.ResponseWriter, r *http.Request) {
		var in map[string]string
		json.NewDecoder(r.Body).Decode(&in)
		p.mu.Lock()
		if in["publicKey"] != "" { // a known device logs in by its id
			p.devKey = in["publicKey"]
		}
		p.mu.Unlock()
		writeJSON(w, http.StatusOK, tokens)
	})
	mux.HandleFunc("PUT /v1/devices/{id}/signing-key", func(w http.ResponseWriter, r *http.Request) {
		var in map[string]string
		json.NewDecoder(r.Body).Decode(&in)
		p.mu.Lock()
		defer p.mu.Unlock()
		key, _ := base64.StdEncoding.DecodeString(in["signingKey"])
		x, _ := base64.StdEncoding.DecodeString(p.devKey)
		binding, _ := base64.StdEncoding.DecodeString(in["binding"])
		if r.PathValue("id") != "d-ann" || e2ee.VerifyBinding(key, "u-ann", x, binding) != nil {
			writeJSON(w, http.StatusBadRequest, map[string]any{"title": "Bad Request", "status": 400})
			return
		}
		p.devSign = in["signingKey"]
		writeJSON(w, http.StatusOK, map[string]string{"deviceId": "d-ann", "signingKey": p.devSign})
	})
	mux.HandleFunc("GET /v1/users", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("username") != "bob" {
			writeJSON(w, http.StatusNotFound, map[string]any{"title": "Not Found", "status": 404})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"userId": "u-bob", "kind": "user", "username": "bob", "name": "Bob"})
	})
	mux.HandleFunc("GET /v1/users/{id}", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"userId": r.PathValue("id"), "kind": "user", "name": strings.TrimPrefix(r.PathValue("id"), "u-")})
	})
	mux.HandleFunc("PUT /v1/me/presence", func(w http.ResponseWriter, r *http.Request) {
		var in map[string]string
		json.NewDecoder(r.Body).Decode(&in)
		p.mu.Lock()
		p.visibility = in["visibility"]
		p.mu.Unlock()
		writeJSON(w, http.StatusOK, in)
	})
	mux.HandleFunc("GET /v1/agents", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"agents": []any{}})
	})
	mux.HandleFunc("POST /v1/conversations", func(w http.ResponseWriter, r *http.Request) {
		var in struct{ Members []string }
		json.NewDecoder(r.Body).Decode(&in)
		if len(in.Members) != 1 || in.Members[0] != "u-bob" {
			t.Errorf("conversation with %v, want [u-bob]", in.Members)
		}
		writeJSON(w, http.StatusCreated, map[string]any{"conversationId": "c-ann-bob", "kind": "direct", "members": []string{"u-ann", "u-bob"}})
	})
	mux.HandleFunc("GET /v1/conversations", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"conversations": []any{
			map[string]any{"conversationId": "c-ann-bob", "kind": "direct", "members": []string{"u-ann", "u-bob"}}}})
	})
	mux.HandleFunc("GET /v1/conversations/{id}/devices", func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		defer p.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{"devices": []map[string]string{
			{"userId": "u-ann", "deviceId": "d-ann", "publicKey": p.devKey, "signingKey": p.devSign},
			{"userId": "u-bob", "deviceId": "d-bob", "publicKey": base64.StdEncoding.EncodeToString(p.bob.PublicKeyBytes()),
				"signingKey": base64.StdEncoding.EncodeToString(p.bobSign.PublicKeyBytes())},
		}})
	})
	p.accounts = httptest.NewServer(mux)
	t.Cleanup(p.accounts.Close)

	up := websocket.Upgrader{Subprotocols: []string{protocol.Subprotocol}}
	p.conn = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		var wmu sync.Mutex
		send := func(f protocol.Frame) {
			wmu.Lock()
			defer wmu.Unlock()
			ws.WriteJSON(f)
		}
		seq := int64(1)
		for {
			var f protocol.Frame
			if err := ws.ReadJSON(&f); err != nil {
				return
			}
			switch f.Type {
			case protocol.TypeResume: // bob's message, which ann has not read
				p.mu.Lock()
				p.resumes = append(p.resumes, f)
				p.mu.Unlock()
				send(protocol.Frame{Type: protocol.TypeResumed, ID: f.ID, Batches: []protocol.Frame{{Type: protocol.TypeBatch,
					Conversation: "c-ann-bob", Messages: []protocol.Frame{p.fromBob("c-ann-bob")}, LastSeq: 1,
					Cursors: []protocol.Cursor{{User: "u-ann", Delivered: 1}, {User: "u-bob", Delivered: 1, Read: 1}}}}})
			case protocol.TypeSync:
				send(protocol.Frame{Type: protocol.TypeBatch, Conversation: f.Conversation,
					Messages: []protocol.Frame{p.fromBob(f.Conversation)}, LastSeq: 1})
			case protocol.TypeSend:
				seq++
				send(protocol.Frame{Type: protocol.TypeStored, ID: f.ID, Conversation: f.Conversation, Seq: seq})
				send(protocol.Frame{Type: protocol.TypeReceipt, Kind: "read", Conversation: f.Conversation, Sender: "u-bob", SenderDevice: "d-bob", Seq: seq})
			case protocol.TypePresence: // bob is online
				send(protocol.Frame{Type: protocol.TypePresence, ID: f.ID, Users: []protocol.Frame{
					{Type: protocol.TypePresence, User: "u-bob", Online: true}}})
			case protocol.TypeRead, protocol.TypeDelivered:
				p.mu.Lock()
				p.acks = append(p.acks, f)
				p.mu.Unlock()
			}
		}
	}))
	t.Cleanup(p.conn.Close)
	return p
}

func (p *fakePlatform) fromBob(conv string) protocol.Frame {
	p.mu.Lock()
	raw, _ := base64.StdEncoding.DecodeString(p.devKey)
	p.mu.Unlock()
	ann, err := e2ee.ParsePublicKey(raw)
	if err != nil {
		p.t.Fatal(err)
	}
	plain, _ := e2ee.Content{Text: "hi ann"}.Marshal()
	env, err := e2ee.Seal(plain, e2ee.AssociatedData{Conversation: conv, SenderDevice: "d-bob", ClientMessageID: "m1"},
		[]e2ee.Recipient{{Device: "d-ann", PublicKey: ann}})
	if err != nil {
		p.t.Fatal(err)
	}
	e2ee.SignEnvelope(env, conv, "d-bob", p.bobSign)
	return protocol.Frame{Type: protocol.TypeMessage, ID: "m1", Conversation: conv, Seq: 1, Sender: "u-bob", SenderDevice: "d-bob", Envelope: env, StoredAt: time.Now()}
}

// syncBuffer is a bytes.Buffer safe for the screen and the test at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func TestChatSignsUpSendsAndShowsTicks(t *testing.T) {
	p := newFakePlatform(t)
	out := &syncBuffer{}
	stdout = out
	stdin = bufio.NewReader(strings.NewReader("hello bob\n"))
	o := &options{
		accounts:   p.accounts.URL,
		connectors: "ws" + strings.TrimPrefix(p.conn.URL, "http"),
		user:       "ann", password: "secret-pw", signup: true, with: "bob",
		stateDir: t.TempDir(),
	}
	if err := run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{"[#1", "bob: hi ann", "you: hello bob", "✓  #2 hello bob", "✓✓ #2 hello bob", "✓✓ read #2"} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	var read bool
	for _, a := range p.acks {
		read = read || (a.Type == protocol.TypeRead && a.Seq == 1)
	}
	if !read {
		t.Errorf("bob's message was not marked read: %+v", p.acks)
	}

	// The next run is the same device: the state file kept key and token.
	st, err := loadState(statePath(o.stateDir, o.accounts, o.user))
	if err != nil || st.DeviceID != "d-ann" || len(st.PrivateKey) != 32 || st.RefreshToken != "r1" {
		t.Fatalf("state %+v, %v", st, err)
	}
	// ... and its signing key, which accounts has (bob's message above
	// showed without an "unverified" mark: the CLI verified it).
	sk, err := e2ee.ParseSigningKey(st.SigningSeed)
	if err != nil || st.SigningFor != "d-ann" || p.devSign != base64.StdEncoding.EncodeToString(sk.PublicKeyBytes()) {
		t.Errorf("signing key %v for %q, registered %q", err, st.SigningFor, p.devSign)
	}
}

// TestListShowsUnread: -list names each conversation and counts its unread
// messages from the member's read cursor, having caught up first.
func TestListShowsUnread(t *testing.T) {
	p := newFakePlatform(t)
	out := &syncBuffer{}
	stdout = out
	o := &options{
		accounts:   p.accounts.URL,
		connectors: "ws" + strings.TrimPrefix(p.conn.URL, "http"),
		user:       "ann", password: "secret-pw", signup: true, list: true,
		stateDir: t.TempDir(),
	}
	if err := run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if got, want := out.String(), "c-ann-bob  direct bob (u-bob)  (online)  [1 unread]"; !strings.Contains(got, want) {
		t.Errorf("list:\n%s\nwant a line %q", got, want)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.acks) != 0 {
		t.Errorf("-list acked %+v; it must not move any cursor", p.acks)
	}
}

// TestPresenceFlag: -presence sets who sees one's presence and exits; a
// value that is not a setting is refused before anything is sent.
func TestPresenceFlag(t *testing.T) {
	p := newFakePlatform(t)
	out := &syncBuffer{}
	stdout = out
	o := &options{
		accounts:   p.accounts.URL,
		connectors: "ws" + strings.TrimPrefix(p.conn.URL, "http"),
		user:       "ann", password: "secret-pw", signup: true, presence: "nobody",
		stateDir: t.TempDir(),
	}
	if err := run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	got := p.visibility
	p.mu.Unlock()
	if got != "nobody" || !strings.Contains(out.String(), "now shown to nobody") {
		t.Errorf("visibility %q, output %q", got, out.String())
	}
	o.presence, o.signup = "friends", false
	if err := run(context.Background(), o); err == nil || !strings.Contains(err.Error(), "everyone, contacts, nobody") {
		t.Errorf("-presence friends: %v", err)
	}
}

func TestPresenceLine(t *testing.T) {
	now := time.Date(2026, 12, 6, 15, 0, 0, 0, time.Local)
	for _, tc := range []struct {
		p    client.Presence
		want string
	}{
		{client.Presence{User: "u", Online: true}, "online"},
		{client.Presence{User: "u", LastSeen: now.Add(-time.Hour)}, "last seen today at 14:00"},
		{client.Presence{User: "u", LastSeen: now.Add(-48 * time.Hour)}, "last seen 2026-12-04 15:00"},
		{client.Presence{User: "u"}, ""},
	} {
		if got := presenceLine(tc.p, now); got != tc.want {
			t.Errorf("presenceLine(%+v) = %q, want %q", tc.p, got, tc.want)
		}
	}
}

// TestKeyChangeNotice: a run remembers bob's identity (its state file);
// after bob's device key changes, the next run says his security code
// changed — and the first run, which saw him first, said nothing.
func TestKeyChangeNotice(t *testing.T) {
	p := newFakePlatform(t)
	dir := t.TempDir()
	runOnce := func(signup bool) string {
		out := &syncBuffer{}
		stdout = out
		stdin = bufio.NewReader(strings.NewReader("hello bob\n"))
		o := &options{accounts: p.accounts.URL, connectors: "ws" + strings.TrimPrefix(p.conn.URL, "http"),
			user: "ann", password: "secret-pw", signup: signup, with: "bob", stateDir: dir}
		if err := run(context.Background(), o); err != nil {
			t.Fatal(err)
		}
		return out.String()
	}
	if got := runOnce(true); strings.Contains(got, "security code changed") {
		t.Errorf("first run:\n%s", got)
	}
	bob, _ := e2ee.GenerateKey()
	bobSign, _ := e2ee.GenerateSigningKey()
	p.mu.Lock()
	p.bob, p.bobSign = bob, bobSign
	p.mu.Unlock()
	if got := runOnce(false); !strings.Contains(got, "🔐 bob's security code changed") {
		t.Errorf("after bob's key changed:\n%s", got)
	}
}
