package connector

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"github.com/agentchat/agentchat/internal/testenv"
	"github.com/agentchat/agentchat/sdk/e2ee"
	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/protocol"
	"github.com/agentchat/agentchat/store/deliveries"
	"github.com/agentchat/agentchat/store/presence"
	"github.com/agentchat/agentchat/store/userlimit"
)

// testRedis connects to the test Redis (AGENTCHAT_TEST_REDIS_URL) and
// returns a client and a key prefix no other test uses. Without the
// variable the test ends through testenv.Missing (a failure under CI=true).
func testRedis(t testing.TB) (*redis.Client, string) {
	t.Helper()
	url := testenv.Env(t, testenv.EnvRedisURL)
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("AGENTCHAT_TEST_REDIS_URL: %v", err)
	}
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { rdb.Close() })
	return rdb, "test:" + strings.ReplaceAll(t.Name(), "/", "_") + ":" + randomHex(4) + ":"
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// eventually polls cond every few milliseconds until it holds or timeout.
func eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// issuer is a JWKS endpoint with one Ed25519 key and a token minter.
type issuer struct {
	kid  string
	priv ed25519.PrivateKey
	srv  *httptest.Server
	mu   sync.Mutex
	hits int
}

func newIssuer(t testing.TB) *issuer {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	is := &issuer{kid: "k-" + randomHex(3), priv: priv}
	is.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		is.mu.Lock()
		is.hits++
		kid, pub := is.kid, is.priv.Public().(ed25519.PublicKey)
		is.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{{
			"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig", "kid": kid,
			"x": base64.RawURLEncoding.EncodeToString(pub),
		}}})
	}))
	t.Cleanup(is.srv.Close)
	return is
}

func (is *issuer) jwksHits() int {
	is.mu.Lock()
	defer is.mu.Unlock()
	return is.hits
}

// rotate replaces the key (and its kid) the JWKS serves.
func (is *issuer) rotate() {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	is.mu.Lock()
	is.kid, is.priv = "k-"+randomHex(3), priv
	is.mu.Unlock()
}

type tokenOpts struct {
	aud, iss string
	ttl      time.Duration
	noDevice bool
	key      ed25519.PrivateKey // default: the issuer's
	kid      string
}

func (is *issuer) token(t testing.TB, user, device string, o tokenOpts) string {
	t.Helper()
	if o.aud == "" {
		o.aud = "agentchat"
	}
	if o.iss == "" {
		o.iss = "agentchat-accounts"
	}
	if o.ttl == 0 {
		o.ttl = time.Hour
	}
	is.mu.Lock()
	if o.key == nil {
		o.key = is.priv
	}
	if o.kid == "" {
		o.kid = is.kid
	}
	is.mu.Unlock()
	claims := jwt.MapClaims{"sub": user, "aud": o.aud, "iss": o.iss,
		"iat": time.Now().Unix(), "exp": time.Now().Add(o.ttl).Unix()}
	if !o.noDevice {
		claims["did"] = device
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	tok.Header["kid"] = o.kid
	s, err := tok.SignedString(o.key)
	if err != nil {
		t.Fatalf("sign token: %v", err)
	}
	return s
}

// sink records the CloudEvents posted to it; status, if set, is the answer.
type sink struct {
	srv    *httptest.Server
	mu     sync.Mutex
	events []event.Event
	binary bool
	status int
}

func newSink(t testing.TB) *sink {
	s := &sink{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		status := s.status
		s.mu.Unlock()
		if status != 0 {
			w.WriteHeader(status)
			return
		}
		e, err := binding.ToEvent(r.Context(), cehttp.NewMessageFromHttpRequest(r))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		s.events = append(s.events, *e)
		s.binary = r.Header.Get("Ce-Id") != ""
		s.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *sink) setStatus(code int) {
	s.mu.Lock()
	s.status = code
	s.mu.Unlock()
}

func (s *sink) received() []event.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]event.Event(nil), s.events...)
}

// env is one running connector with its collaborators.
type env struct {
	t      testing.TB
	srv    *Server
	url    string // http://host:port
	rdb    redis.UniversalClient
	prefix string
	is     *issuer
	sink   *sink
}

// startConnector runs a connector against the test Redis; tweak adjusts the
// configuration first.
func startConnector(t testing.TB, tweak func(*Config)) *env {
	t.Helper()
	rdb, prefix := testRedis(t)
	return startConnectorOn(t, rdb, prefix, newIssuer(t), newSink(t), tweak)
}

func startConnectorOn(t testing.TB, rdb redis.UniversalClient, prefix string, is *issuer, sk *sink, tweak func(*Config)) *env {
	t.Helper()
	return startConnectorWith(t, rdb, prefix, is, sk, tweak, nil)
}

// startConnectorWith is startConnectorOn with prep run on the server
// before it serves (to set test hooks).
func startConnectorWith(t testing.TB, rdb redis.UniversalClient, prefix string, is *issuer, sk *sink, tweak func(*Config), prep func(*Server)) *env {
	t.Helper()
	cfg := Config{ConnectorID: "c-" + randomHex(4), RedisPrefix: prefix, Sink: sk.srv.URL,
		JWKSURL: is.srv.URL, ReconnectSpread: 500 * time.Millisecond}
	if tweak != nil {
		tweak(&cfg)
	}
	cfg = cfg.withDefaults()
	httpSink, err := NewHTTPSink(cfg.Sink, cfg.CEOverrides)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	srv, err := New(cfg, Deps{
		Sink:       httpSink,
		Presence:   presence.NewRedis(rdb, prefix).Connector(cfg.ConnectorID),
		Deliveries: NewRedisDeliveries(rdb, prefix, cfg.ConnectorID),
		Tokens:     NewJWKSVerifier(cfg.JWKSURL, cfg.TokenAudience, cfg.TokenIssuer),
		Limits:     userlimit.NewRedis(rdb, prefix),
		Logger:     log,
	})
	if err != nil {
		t.Fatal(err)
	}
	if prep != nil {
		prep(srv)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	eventually(t, frameWait, "the delivery subscription", srv.Ready)
	return &env{t: t, srv: srv, url: "http://" + ln.Addr().String(), rdb: rdb, prefix: prefix, is: is, sink: sk}
}

func (e *env) wsURL() string { return "ws" + strings.TrimPrefix(e.url, "http") + WebSocketPath }

// client is a test WebSocket client.
type client struct {
	t  testing.TB
	ws *websocket.Conn
}

// dial connects as user/device with a valid token in the Authorization
// header and reads the hello frame.
func (e *env) dial(user, device string) *client {
	e.t.Helper()
	c, resp, err := e.tryDial(http.Header{"Authorization": {"Bearer " + e.is.token(e.t, user, device, tokenOpts{})}}, nil)
	if err != nil {
		e.t.Fatalf("dial %s/%s: %v (%v)", user, device, err, resp)
	}
	h := c.next()
	if h.Type != protocol.TypeHello || h.User != user || h.Device != device || h.Connector != e.srv.ID() {
		e.t.Fatalf("first frame: got %+v, want hello for %s/%s", h, user, device)
	}
	return c
}

func (e *env) tryDial(h http.Header, subprotocols []string) (*client, *http.Response, error) {
	return e.tryDialWith(websocket.Dialer{HandshakeTimeout: frameWait}, h, subprotocols)
}

func (e *env) tryDialWith(d websocket.Dialer, h http.Header, subprotocols []string) (*client, *http.Response, error) {
	if subprotocols == nil {
		subprotocols = []string{protocol.Subprotocol}
	}
	d.Subprotocols = subprotocols
	ws, resp, err := d.Dial(e.wsURL(), h)
	if err != nil {
		return nil, resp, err
	}
	c := &client{t: e.t, ws: ws}
	e.t.Cleanup(func() { ws.Close() })
	return c, resp, nil
}

// frameWait bounds the wait for a frame that must come: a liveness bound
// (a hung connector fails the test), never a speed requirement — a loaded
// machine under -race can take seconds.
const frameWait = 30 * time.Second

// next reads one frame (frameWait at most).
func (c *client) next() protocol.Frame {
	c.t.Helper()
	f, err := c.read(frameWait)
	if err != nil {
		c.t.Fatalf("read frame: %v", err)
	}
	return f
}

func (c *client) read(timeout time.Duration) (protocol.Frame, error) {
	var f protocol.Frame
	c.ws.SetReadDeadline(time.Now().Add(timeout))
	_, data, err := c.ws.ReadMessage()
	if err != nil {
		return f, err
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return f, err
	}
	return f, nil
}

// nextOfType reads frames until one of type typ arrives.
func (c *client) nextOfType(typ string) protocol.Frame {
	c.t.Helper()
	for {
		if f := c.next(); f.Type == typ {
			return f
		}
	}
}

func (c *client) sendRaw(s string) {
	c.t.Helper()
	if err := c.ws.WriteMessage(websocket.TextMessage, []byte(s)); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

func (c *client) sendFrame(f protocol.Frame) {
	c.t.Helper()
	data, _ := json.Marshal(f)
	c.sendRaw(string(data))
}

// closeCode reads until the socket ends and returns its close code
// (websocket.CloseAbnormalClosure if there was no close frame).
func (c *client) closeCode(timeout time.Duration) int {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		_, err := c.read(time.Until(deadline))
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return ce.Code
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			c.t.Fatalf("socket still open after %s", timeout)
		}
		return websocket.CloseAbnormalClosure
	}
}

// envelope returns a well-shaped envelope for devices with n bytes of
// ciphertext (random: only the shape is checked server-side).
func envelope(n int, devices ...string) *e2ee.Envelope {
	rnd := func(n int) []byte { b := make([]byte, n); rand.Read(b); return b }
	env := &e2ee.Envelope{V: e2ee.Version, Nonce: rnd(12), Ciphertext: rnd(n)}
	for _, d := range devices {
		env.Keys = append(env.Keys, e2ee.WrappedKey{Device: d, Ephemeral: rnd(32), Nonce: rnd(12), Wrapped: rnd(48)})
	}
	return env
}

// publish sends a delivery of inner to targets on the connector's channel.
func (e *env) publish(inner event.Event, targets ...[2]string) {
	e.t.Helper()
	if err := e.rdb.Publish(context.Background(), deliveryChannel(e.prefix, e.srv.ID()), deliveryPayload(e.t, inner, targets...)).Err(); err != nil {
		e.t.Fatalf("publish: %v", err)
	}
}

func deliveryChannel(prefix, id string) string { return deliveries.Channel(prefix, id) }

func deliveryPayload(t testing.TB, inner event.Event, targets ...[2]string) []byte {
	t.Helper()
	refs := make([]events.DeviceRef, len(targets))
	for i, tg := range targets {
		refs[i] = events.DeviceRef{User: tg[0], Device: tg[1]}
	}
	data, err := deliveries.Encode(deliveries.Of(inner, refs))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// stored is persist's message.stored for a message of user/device.
func stored(t testing.TB, conv string, seq int64, user, device, clientID string, env *e2ee.Envelope) event.Event {
	t.Helper()
	e, err := events.NewMessageStored(events.Message{ConversationID: conv, Seq: seq, SenderID: user, SenderDevice: device,
		ClientMessageID: clientID, Envelope: env, StoredAt: time.Now().UTC().Truncate(time.Millisecond)})
	if err != nil {
		t.Fatalf("NewMessageStored: %v", err)
	}
	return e
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// nextOfTypeWithin reads frames until one of type typ arrives, for at most timeout.
func (c *client) nextOfTypeWithin(typ string, timeout time.Duration) protocol.Frame {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		f, err := c.read(time.Until(deadline))
		if err != nil {
			c.t.Fatalf("waiting for %s: %v", typ, err)
		}
		if f.Type == typ {
			return f
		}
	}
}

func get(t testing.TB, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// debugCounters summarises the server's drop and close counters for test failures.
func (s *Server) debugCounters() string {
	drops := ""
	for _, r := range []string{"malformed", "unrenderable", "not_here", "duplicate", "slow_consumer"} {
		drops += fmt.Sprintf(" %s=%v", r, testutil.ToFloat64(s.m.deliveryDrops.WithLabelValues(r)))
	}
	return fmt.Sprintf("connections %d, deliveries %v, slow consumers %v, resubscribes %v, abnormal closes %v, drops%s",
		s.Connections(), testutil.ToFloat64(s.m.deliveries), testutil.ToFloat64(s.m.slowConsumers), testutil.ToFloat64(s.m.resubscribes),
		testutil.ToFloat64(s.m.closes.WithLabelValues("1006")), drops)
}
