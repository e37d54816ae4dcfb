package connector

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/agentchat/agentchat/sdk/protocol"
)

func TestUpgradeRefusesBadTokens(t *testing.T) {
	e := startConnector(t, nil)
	_, otherKey, _ := ed25519.GenerateKey(rand.Reader)
	for _, tc := range []struct {
		name   string
		header http.Header
	}{
		{"missing", http.Header{}},
		{"not bearer", http.Header{"Authorization": {"Basic YWxpY2U6cHc="}}},
		{"garbage", http.Header{"Authorization": {"Bearer not.a.jwt"}}},
		{"forged (other key, same kid)", bearer(e.is.token(t, "alice", "d1", tokenOpts{key: otherKey}))},
		{"unknown kid", bearer(e.is.token(t, "alice", "d1", tokenOpts{key: otherKey, kid: "nope"}))},
		{"expired", bearer(e.is.token(t, "alice", "d1", tokenOpts{ttl: -time.Minute}))},
		{"wrong audience", bearer(e.is.token(t, "alice", "d1", tokenOpts{aud: "someone-else"}))},
		{"wrong issuer", bearer(e.is.token(t, "alice", "d1", tokenOpts{iss: "evil"}))},
		{"no device claim", bearer(e.is.token(t, "alice", "d1", tokenOpts{noDevice: true}))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, resp, err := e.tryDial(tc.header, nil)
			if err == nil {
				t.Fatal("upgrade succeeded, want 401")
			}
			if resp == nil {
				t.Fatalf("no HTTP response: %v", err)
			}
			if got, want := resp.StatusCode, http.StatusUnauthorized; got != want {
				t.Fatalf("status: got %d, want %d", got, want)
			}
			if got, want := resp.Header.Get("Content-Type"), "application/problem+json"; got != want {
				t.Errorf("content type: got %q, want %q", got, want)
			}
			var p struct {
				Status int    `json:"status"`
				Code   string `json:"code"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&p); err != nil || p.Status != 401 || p.Code != protocol.CodeUnauthorized {
				t.Errorf("problem body: got %+v (%v)", p, err)
			}
		})
	}
	if got := e.srv.Connections(); got != 0 {
		t.Errorf("connections after refused upgrades: got %d, want 0", got)
	}
}

func bearer(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }

func TestSubprotocolTokenWorksAndIsNotEchoed(t *testing.T) {
	e := startConnector(t, nil)
	tok := e.is.token(t, "alice", "d1", tokenOpts{})
	c, resp, err := e.tryDial(nil, []string{protocol.Subprotocol, protocol.TokenSubprotocolPrefix + tok})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	if got, want := resp.Header.Get("Sec-WebSocket-Protocol"), protocol.Subprotocol; got != want {
		t.Errorf("chosen subprotocol: got %q, want %q", got, want)
	}
	if h := c.next(); h.Type != protocol.TypeHello || h.User != "alice" || h.Device != "d1" {
		t.Errorf("hello: got %+v", h)
	}
}

func TestUpgradeRefusesOtherProtocolVersions(t *testing.T) {
	e := startConnector(t, nil)
	_, resp, err := e.tryDial(bearer(e.is.token(t, "alice", "d1", tokenOpts{})), []string{"agentchat.v9"})
	if err == nil || resp == nil || resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("got %v (%v), want 400", resp, err)
	}
}

// A request that is no WebSocket handshake is told so (400 bad_handshake)
// before its token is looked at; a handshake without a token gets 401.
func TestHandshakeIsCheckedBeforeTheToken(t *testing.T) {
	e := startConnector(t, nil)
	for _, tc := range []struct {
		name   string
		header http.Header
		status int
		code   string
	}{
		{"plain GET, no token", http.Header{}, http.StatusBadRequest, "bad_handshake"},
		{"plain GET with a token", bearer(e.is.token(t, "alice", "d1", tokenOpts{})), http.StatusBadRequest, "bad_handshake"},
		{"old WebSocket version", http.Header{"Connection": {"Upgrade"}, "Upgrade": {"websocket"}, "Sec-WebSocket-Version": {"8"},
			"Sec-WebSocket-Key": {"dGhlIHNhbXBsZSBub25jZQ=="}}, http.StatusBadRequest, "bad_handshake"},
		{"handshake, no token", http.Header{"Connection": {"Upgrade"}, "Upgrade": {"websocket"}, "Sec-WebSocket-Version": {"13"},
			"Sec-WebSocket-Key": {"dGhlIHNhbXBsZSBub25jZQ=="}}, http.StatusUnauthorized, protocol.CodeUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, e.url+WebSocketPath, nil)
			for k, v := range tc.header {
				req.Header[k] = v
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var p struct {
				Status int    `json:"status"`
				Code   string `json:"code"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&p); err != nil || resp.StatusCode != tc.status || p.Status != tc.status || p.Code != tc.code {
				t.Errorf("got %d %+v (%v), want %d %s", resp.StatusCode, p, err, tc.status, tc.code)
			}
		})
	}
}

func TestOriginCheck(t *testing.T) {
	for _, tc := range []struct {
		name    string
		allowed []string
		origin  string
		ok      bool
	}{
		{"no origin (not a browser)", nil, "", true},
		{"same host", nil, "SAME", true},
		{"other host", nil, "https://evil.example", false},
		{"listed", []string{"https://app.example"}, "https://app.example", true},
		{"not listed", []string{"https://app.example"}, "https://evil.example", false},
		{"any", []string{"*"}, "https://evil.example", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := startConnector(t, func(c *Config) { c.AllowedOrigins = tc.allowed })
			h := bearer(e.is.token(t, "alice", "d1", tokenOpts{}))
			if tc.origin == "SAME" {
				h.Set("Origin", e.url)
			} else if tc.origin != "" {
				h.Set("Origin", tc.origin)
			}
			_, resp, err := e.tryDial(h, nil)
			if got := err == nil; got != tc.ok {
				t.Fatalf("upgraded: got %v, want %v (%v)", got, tc.ok, err)
			}
			if !tc.ok && resp.StatusCode != http.StatusForbidden {
				t.Errorf("status: got %d, want 403", resp.StatusCode)
			}
		})
	}
}

func TestTokenExpiryClosesWith4001(t *testing.T) {
	e := startConnector(t, nil)
	c, _, err := e.tryDial(bearer(e.is.token(t, "alice", "d1", tokenOpts{ttl: 1500 * time.Millisecond})), nil)
	if err != nil {
		t.Fatal(err)
	}
	// The close comes at exp + protocol.TokenLeeway (TestTokenLeeway).
	if got, want := c.closeCode(frameWait+protocol.TokenLeeway), protocol.CloseTokenExpired; got != want {
		t.Errorf("close code: got %d, want %d", got, want)
	}
}
