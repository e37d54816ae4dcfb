package connector

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"testing"
	"time"
)

func TestJWKSVerifierFollowsKeyRotation(t *testing.T) {
	is := newIssuer(t)
	v := NewJWKSVerifier(is.srv.URL, "agentchat", "agentchat-accounts")
	v.MinRefresh = 0
	ctx := context.Background()
	if id, err := v.Verify(ctx, is.token(t, "alice", "d1", tokenOpts{})); err != nil || id.User != "alice" || id.Device != "d1" {
		t.Fatalf("first key: got %+v, %v", id, err)
	}
	is.rotate()
	id, err := v.Verify(ctx, is.token(t, "bob", "d2", tokenOpts{}))
	if err != nil || id.User != "bob" || id.Device != "d2" {
		t.Fatalf("after rotation: got %+v, %v", id, err)
	}
	if id.Expires.Before(time.Now().Add(50 * time.Minute)) {
		t.Errorf("expiry: got %v, want about an hour from now", id.Expires)
	}
}

func TestJWKSVerifierLimitsRefetches(t *testing.T) {
	is := newIssuer(t)
	v := NewJWKSVerifier(is.srv.URL, "agentchat", "agentchat-accounts")
	ctx := context.Background()
	if _, err := v.Verify(ctx, is.token(t, "alice", "d1", tokenOpts{})); err != nil {
		t.Fatal(err)
	}
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	for i := range 50 {
		_, err := v.Verify(ctx, is.token(t, "alice", "d1", tokenOpts{key: other, kid: "forged-" + string(rune('a'+i%26))}))
		if !errors.Is(err, ErrUnknownKey) {
			t.Fatalf("forged kid: got %v, want ErrUnknownKey", err)
		}
	}
	if got, want := is.jwksHits(), 1; got != want {
		t.Errorf("JWKS fetches: got %d, want %d (unknown kids must not each cause a fetch)", got, want)
	}
}
