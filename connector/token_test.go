package connector

import (
	"context"
	"testing"
	"time"

	"github.com/agentchat/agentchat/sdk/protocol"
)

// TestTokenLeeway: the connector accepts a token within protocol.TokenLeeway
// past its exp — the leeway accounts grants — refuses one beyond it, and
// says a socket's token stops being accepted at exp + leeway (when 4001
// comes).
func TestTokenLeeway(t *testing.T) {
	is := newIssuer(t)
	v := NewJWKSVerifier(is.srv.URL, "agentchat", "agentchat-accounts")
	ctx := context.Background()
	// exp is whole seconds: ttl -2s puts it 2–3 s in the past, within 5 s.
	id, err := v.Verify(ctx, is.token(t, "alice", "d1", tokenOpts{ttl: -2 * time.Second}))
	if err != nil {
		t.Fatalf("a token 2 s past exp: %v, want accepted (leeway %v)", err, protocol.TokenLeeway)
	}
	if left := time.Until(id.Expires); left <= 0 || left > protocol.TokenLeeway {
		t.Errorf("Expires in %v, want exp + leeway: within (0, %v]", left, protocol.TokenLeeway)
	}
	if _, err := v.Verify(ctx, is.token(t, "alice", "d1", tokenOpts{ttl: -protocol.TokenLeeway - 2*time.Second})); err == nil {
		t.Error("a token past exp + leeway was accepted")
	}
	id, err = v.Verify(ctx, is.token(t, "alice", "d1", tokenOpts{ttl: time.Hour}))
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Until(id.Expires) - time.Hour - protocol.TokenLeeway; d > time.Second || d < -2*time.Second {
		t.Errorf("Expires = now + %v, want exp + %v", time.Until(id.Expires), protocol.TokenLeeway)
	}
}
