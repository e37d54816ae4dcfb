package token

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/agentchat/agentchat/sdk/protocol"
)

func mustKey(t *testing.T) Key {
	t.Helper()
	k, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestParseKeys(t *testing.T) {
	a, b := mustKey(t), mustKey(t)
	keys, err := ParseKeys(FormatKey(a) + ", " + FormatKey(b))
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || keys[0].ID != a.ID || !keys[1].Private.Equal(b.Private) {
		t.Fatalf("ParseKeys gave %d keys, first %q; want a then b", len(keys), keys[0].ID)
	}
	for _, bad := range []string{"", "nokid", "k1:c2hvcnQ", "k1:" + strings.Repeat("A", 43) + ",k1:" + strings.Repeat("A", 43), "bad kid:" + strings.Repeat("A", 43)} {
		if _, err := ParseKeys(bad); err == nil {
			t.Errorf("ParseKeys(%q) succeeded, want an error", bad)
		}
	}
}

func TestIssueVerify(t *testing.T) {
	s, err := NewSigner([]Key{mustKey(t)}, 15*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	raw, exp, err := s.Issue("u-1", "dv-1")
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.Verify(raw)
	if err != nil {
		t.Fatal(err)
	}
	if c.Subject != "u-1" || c.Device != "dv-1" || c.Issuer != Issuer || c.Audience[0] != Audience || !c.ExpiresAt.Time.Equal(exp) {
		t.Errorf("claims = %+v", c)
	}
}

func TestVerifyRejects(t *testing.T) {
	k := mustKey(t)
	s, _ := NewSigner([]Key{k}, time.Minute)
	other, _ := NewSigner([]Key{{ID: k.ID, Private: mustKey(t).Private}}, time.Minute)
	now := time.Now()
	expired, _, _ := s.sign(k, "u", "d", now.Add(-time.Hour), now.Add(-time.Minute))
	forged, _, _ := other.Issue("u", "d")
	noDevice, _, _ := s.sign(k, "u", "", now, now.Add(time.Minute))
	wrongAud := jwt.NewWithClaims(jwt.SigningMethodEdDSA, jwt.RegisteredClaims{Issuer: Issuer, Subject: "u", Audience: jwt.ClaimStrings{"other"}, ExpiresAt: jwt.NewNumericDate(now.Add(time.Minute))})
	wrongAud.Header["kid"] = k.ID
	aud, _ := wrongAud.SignedString(k.Private)
	hs := jwt.NewWithClaims(jwt.SigningMethodHS256, Claims{RegisteredClaims: jwt.RegisteredClaims{Issuer: Issuer, Subject: "u", Audience: jwt.ClaimStrings{Audience}, ExpiresAt: jwt.NewNumericDate(now.Add(time.Minute))}, Device: "d"})
	hs.Header["kid"] = k.ID
	hmac, _ := hs.SignedString([]byte(k.Public()))
	for name, raw := range map[string]string{"expired": expired, "forged": forged, "no did": noDevice, "audience": aud, "hs256": hmac, "garbage": "a.b.c"} {
		if _, err := s.Verify(raw); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: Verify err = %v, want ErrInvalid", name, err)
		}
	}
}

// TestRotation follows the documented rotation: tokens from the old key and
// the new key both verify while both are configured.
func TestRotation(t *testing.T) {
	oldKey, newKey := mustKey(t), mustKey(t)
	before, _ := NewSigner([]Key{oldKey}, time.Minute)
	during, _ := NewSigner([]Key{newKey, oldKey}, time.Minute)
	oldTok, _, _ := before.Issue("u", "d")
	newTok, _, _ := during.Issue("u", "d")
	for name, raw := range map[string]string{"old": oldTok, "new": newTok} {
		if _, err := during.Verify(raw); err != nil {
			t.Errorf("%s token: %v", name, err)
		}
	}
	pubs, err := during.JWKS().PublicKeys()
	if err != nil || len(pubs) != 2 || !pubs[oldKey.ID].Equal(oldKey.Public()) {
		t.Errorf("JWKS keys = %v, %v; want both", pubs, err)
	}
	if got := during.JWKS().Keys[0].Kid; got != newKey.ID {
		t.Errorf("first JWKS key = %q, want the signing key %q", got, newKey.ID)
	}
}

// TestVerifyLeeway: a token is accepted until protocol.TokenLeeway past its
// exp — the connector's leeway too — and refused after; the same leeway
// applies to an iat in the future (another replica's clock ahead).
func TestVerifyLeeway(t *testing.T) {
	k := mustKey(t)
	s, err := NewSigner([]Key{k}, 15*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	exp := time.Now().Truncate(time.Second)
	raw, _, err := s.sign(k, "u", "d", exp.Add(-time.Minute), exp)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		at time.Time
		ok bool
	}{
		{exp.Add(-time.Second), true},
		{exp.Add(protocol.TokenLeeway - time.Second), true},
		{exp.Add(protocol.TokenLeeway + time.Second), false},
	} {
		s.now = func() time.Time { return tc.at }
		if _, err := s.Verify(raw); (err == nil) != tc.ok {
			t.Errorf("at exp%+v: Verify = %v, want accepted %v", tc.at.Sub(exp), err, tc.ok)
		}
	}
	s.now = time.Now
	future, _, _ := s.sign(k, "u", "d", time.Now().Add(protocol.TokenLeeway-time.Second), time.Now().Add(time.Hour))
	if _, err := s.Verify(future); err != nil {
		t.Errorf("iat within the leeway ahead: %v", err)
	}
	future, _, _ = s.sign(k, "u", "d", time.Now().Add(protocol.TokenLeeway+time.Minute), time.Now().Add(time.Hour))
	if _, err := s.Verify(future); err == nil {
		t.Error("iat a minute beyond the leeway ahead: accepted")
	}
}
