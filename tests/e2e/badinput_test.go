package e2e

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"

	"github.com/agentchat/agentchat/sdk/e2ee"
	"github.com/agentchat/agentchat/sdk/protocol"
)

// Bad input gets a clear error frame, close code or HTTP status, and
// nothing is stored.
func TestBadInputIsRefusedAndNothingStored(t *testing.T) {
	e := start(t, opts{connectors: 1, functions: spineFunctions})
	ctx := context.Background()
	alice, bob, eve := signup(t, e, "alice"), signup(t, e, "bob"), signup(t, e, "eve")
	conv, err := alice.sess.CreateConversation(ctx, "direct", []string{alice.id, bob.id}, "")
	if err != nil {
		t.Fatal(err)
	}
	url := e.p.ConnectorURLs()[0]
	token := func(u *person) string {
		tok, err := u.sess.Token(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	kid, key := e.p.SigningKey()
	mint := func(key ed25519.PrivateKey, kid string, exp time.Time, aud string) string {
		return mintToken(t, key, kid, alice.id, alice.sess.DeviceID(), exp, aud)
	}
	_, otherKey, _ := ed25519.GenerateKey(rand.Reader)

	t.Run("tokens", func(t *testing.T) {
		for _, tc := range []struct{ name, token string }{
			{"missing", ""},
			{"garbage", "not-a-jwt"},
			{"forged (other key, same kid)", mint(otherKey, kid, time.Now().Add(time.Hour), "agentchat")},
			{"expired", mint(key, kid, time.Now().Add(-time.Minute), "agentchat")},
			{"wrong audience", mint(key, kid, time.Now().Add(time.Hour), "someone-else")},
		} {
			_, resp, err := dialRaw(url, tc.token)
			if err == nil {
				t.Errorf("%s: upgrade succeeded", tc.name)
				continue
			}
			if resp == nil || resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("%s: got %v, want HTTP 401", tc.name, resp)
			}
		}
		// The same construction with the real key is accepted: the cases
		// above fail for the reason they name.
		c, _, err := dialRaw(url, mint(key, kid, time.Now().Add(time.Hour), "agentchat"))
		if err != nil {
			t.Fatalf("a well-formed minted token was refused: %v", err)
		}
		c.Close()
		// Not a WebSocket handshake at all: told so, before any token.
		resp, err := http.Get(strings.Replace(url, "ws://", "http://", 1))
		if err != nil {
			t.Fatal(err)
		}
		var p struct{ Code string }
		json.NewDecoder(resp.Body).Decode(&p)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || p.Code != "bad_handshake" {
			t.Errorf("plain GET without a token: %d %q, want 400 bad_handshake", resp.StatusCode, p.Code)
		}
	})

	ws, _, err := dialRaw(url, token(alice))
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	expectFrame(t, ws, "hello")

	t.Run("malformed json", func(t *testing.T) {
		ws.WriteMessage(websocket.TextMessage, []byte(`{"type": "send", `))
		expectError(t, ws, protocol.CodeBadFrame)
	})
	t.Run("a field of another frame type", func(t *testing.T) {
		env := sealFor(t, ctx, alice, conv.ID, "seq-1")
		ws.WriteJSON(map[string]any{"type": "send", "id": "seq-1", "conversation": conv.ID, "envelope": env, "seq": 99})
		if f := expectError(t, ws, protocol.CodeBadFrame); f.ID != "seq-1" {
			t.Errorf("error frame id %q, want seq-1", f.ID)
		}
	})
	t.Run("unknown frame type", func(t *testing.T) {
		ws.WriteJSON(map[string]any{"type": "launch-missiles"})
		expectError(t, ws, protocol.CodeUnknownType)
	})
	t.Run("spoofed sender", func(t *testing.T) {
		env := sealFor(t, ctx, alice, conv.ID, "spoof-1")
		ws.WriteJSON(map[string]any{"type": "send", "id": "spoof-1", "conversation": conv.ID, "envelope": env, "sender": bob.id})
		expectError(t, ws, protocol.CodeBadFrame)
	})
	t.Run("not a member", func(t *testing.T) {
		// Eve sends into Alice and Bob's conversation, with a well-formed
		// envelope for their devices.
		we, _, err := dialRaw(url, token(eve))
		if err != nil {
			t.Fatal(err)
		}
		defer we.Close()
		expectFrame(t, we, "hello")
		env := sealFor(t, ctx, alice, conv.ID, "intrude-1")
		we.WriteJSON(map[string]any{"type": "send", "id": "intrude-1", "conversation": conv.ID, "envelope": env})
		expectError(t, we, protocol.CodeNotMember)
	})
	t.Run("envelope missing a member device", func(t *testing.T) {
		content, _ := e2ee.Content{Text: "for alice only"}.Marshal()
		recips, _ := alice.sess.ConversationDevices(ctx, conv.ID)
		var mine []e2ee.Recipient
		for _, r := range recips {
			if r.Device == alice.sess.DeviceID() {
				mine = append(mine, r)
			}
		}
		env, err := e2ee.Seal(content, e2ee.AssociatedData{Conversation: conv.ID, SenderDevice: alice.sess.DeviceID(), ClientMessageID: "partial-1"}, mine)
		if err != nil {
			t.Fatal(err)
		}
		ws.WriteJSON(map[string]any{"type": "send", "id": "partial-1", "conversation": conv.ID, "envelope": env})
		f := expectError(t, ws, protocol.CodeMissingKeys)
		if len(f.MissingDevices) != 1 || f.MissingDevices[0] != bob.sess.DeviceID() {
			t.Errorf("missingDevices = %v, want [%s]", f.MissingDevices, bob.sess.DeviceID())
		}
	})
	t.Run("oversized frame closes 1009", func(t *testing.T) {
		big := `{"type":"send","id":"big","conversation":"` + conv.ID + `","envelope":{"ct":"` + strings.Repeat("A", protocol.MaxFrameSize) + `"}}`
		ws.WriteMessage(websocket.TextMessage, []byte(big))
		ws.SetReadDeadline(time.Now().Add(10 * time.Second))
		for {
			_, _, err := ws.ReadMessage()
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				if ce.Code != protocol.CloseTooBig {
					t.Errorf("close code %d, want %d", ce.Code, protocol.CloseTooBig)
				}
				break
			}
			if err != nil {
				t.Fatalf("read: %v (want close %d)", err, protocol.CloseTooBig)
			}
		}
	})
	// A barrier instead of a sleep: one good message from the same sender,
	// sent last and seen stored, then exactly it is in MongoDB. Every bad
	// input above was answered with its error (the refusal is final), so
	// nothing of them can still be on its way.
	good, _, err := dialRaw(url, token(alice))
	if err != nil {
		t.Fatal(err)
	}
	defer good.Close()
	expectFrame(t, good, "hello")
	goodEnv := sealFor(t, ctx, alice, conv.ID, "good-1")
	good.WriteJSON(map[string]any{"type": "send", "id": "good-1", "conversation": conv.ID, "envelope": goodEnv})
	if f := expectFrame(t, good, protocol.TypeStored); f.ID != "good-1" || f.Seq != 1 {
		t.Errorf("the good message: stored %+v, want id good-1 at seq 1", f)
	}
	// Acks are idempotent too: every resend on the same socket gets its
	// stored back, with the same seq.
	for i := range 3 {
		good.WriteJSON(map[string]any{"type": "send", "id": "good-1", "conversation": conv.ID, "envelope": goodEnv})
		if f := expectFrame(t, good, protocol.TypeStored); f.ID != "good-1" || f.Seq != 1 {
			t.Errorf("resend %d: stored %+v, want id good-1 at seq 1", i+1, f)
		}
	}
	if n := e.countMessages(t); n != 1 {
		t.Errorf("%d messages stored, want only the good one: bad input reached MongoDB", n)
	}
}

// mintToken signs an access token the way accounts does (EdDSA, kid,
// issuer agentchat-accounts), with the claims a test wants to get wrong.
func mintToken(t *testing.T, key ed25519.PrivateKey, kid, user, device string, exp time.Time, aud string) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, jwt.MapClaims{
		"sub": user, "did": device, "aud": aud, "iss": "agentchat-accounts",
		"iat": time.Now().Add(-time.Hour).Unix(), "exp": exp.Unix()})
	tok.Header["kid"] = kid
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func dialRaw(url, token string) (*websocket.Conn, *http.Response, error) {
	protos := []string{protocol.Subprotocol}
	if token != "" {
		protos = append(protos, protocol.TokenSubprotocolPrefix+token)
	}
	d := websocket.Dialer{Subprotocols: protos, HandshakeTimeout: 10 * time.Second}
	return d.Dial(url, nil)
}

func sealFor(t *testing.T, ctx context.Context, from *person, conv, id string) *e2ee.Envelope {
	t.Helper()
	recips, err := from.sess.ConversationDevices(ctx, conv)
	if err != nil {
		t.Fatal(err)
	}
	content, _ := e2ee.Content{Text: "hello " + id}.Marshal()
	env, err := e2ee.Seal(content, e2ee.AssociatedData{Conversation: conv, SenderDevice: from.sess.DeviceID(), ClientMessageID: id}, recips)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func expectFrame(t *testing.T, ws *websocket.Conn, typ string) protocol.Frame {
	t.Helper()
	ws.SetReadDeadline(time.Now().Add(15 * time.Second))
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("waiting for %q: %v", typ, err)
		}
		var f protocol.Frame
		if err := json.Unmarshal(data, &f); err != nil {
			t.Fatalf("frame: %v", err)
		}
		if f.Type == typ {
			return f
		}
	}
}

func expectError(t *testing.T, ws *websocket.Conn, code string) protocol.Frame {
	t.Helper()
	f := expectFrame(t, ws, protocol.TypeError)
	if f.Code != code {
		t.Errorf("error code %q (%s), want %q", f.Code, f.Message, code)
	}
	return f
}
