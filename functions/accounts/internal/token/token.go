package token

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/agentchat/agentchat/sdk/protocol"
)

// The fixed claims every agentchat access token carries.
const (
	Audience = "agentchat"
	Issuer   = "agentchat-accounts"
)

// ErrInvalid is wrapped by every error Verify returns: the token is
// malformed, forged, expired, or not for agentchat.
var ErrInvalid = errors.New("token: invalid access token")

// Claims are an access token's claims: sub is the user, did the device.
type Claims struct {
	jwt.RegisteredClaims
	Device string `json:"did"`
}

// Signer issues access tokens with its first key and verifies tokens signed
// by any of its keys.
type Signer struct {
	keys   []Key
	pubs   map[string]ed25519.PublicKey
	ttl    time.Duration
	now    func() time.Time
	parser *jwt.Parser
}

// NewSigner returns a Signer issuing tokens valid for ttl.
func NewSigner(keys []Key, ttl time.Duration) (*Signer, error) {
	if len(keys) == 0 {
		return nil, errors.New("token: no signing keys")
	}
	if ttl <= 0 {
		return nil, errors.New("token: access token TTL must be positive")
	}
	s := &Signer{keys: keys, pubs: map[string]ed25519.PublicKey{}, ttl: ttl, now: time.Now}
	for _, k := range keys {
		s.pubs[k.ID] = k.Public()
	}
	s.parser = jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}),
		jwt.WithAudience(Audience), jwt.WithIssuer(Issuer),
		jwt.WithExpirationRequired(), jwt.WithIssuedAt(),
		jwt.WithLeeway(protocol.TokenLeeway), // the connector's too: one leeway for every verifier
		jwt.WithTimeFunc(func() time.Time { return s.now() }),
	)
	return s, nil
}

// TTL is how long an issued token lives.
func (s *Signer) TTL() time.Duration { return s.ttl }

// Issue signs an access token for (user, device).
func (s *Signer) Issue(user, device string) (string, time.Time, error) {
	now := s.now().Truncate(time.Second)
	exp := now.Add(s.ttl)
	return s.sign(s.keys[0], user, device, now, exp)
}

func (s *Signer) sign(k Key, user, device string, iat, exp time.Time) (string, time.Time, error) {
	t := jwt.NewWithClaims(jwt.SigningMethodEdDSA, Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: Issuer, Subject: user, Audience: jwt.ClaimStrings{Audience},
			IssuedAt: jwt.NewNumericDate(iat), ExpiresAt: jwt.NewNumericDate(exp),
		},
		Device: device,
	})
	t.Header["kid"] = k.ID
	signed, err := t.SignedString(k.Private)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("token: sign: %w", err)
	}
	return signed, exp, nil
}

// Verify checks signature, kid, alg, audience, issuer and expiry, and that
// sub and did are present.
func (s *Signer) Verify(raw string) (Claims, error) {
	var c Claims
	_, err := s.parser.ParseWithClaims(raw, &c, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		pub, ok := s.pubs[kid]
		if !ok {
			return nil, fmt.Errorf("unknown kid %q", kid)
		}
		return pub, nil
	})
	if err != nil {
		return Claims{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if c.Subject == "" || c.Device == "" {
		return Claims{}, fmt.Errorf("%w: sub and did are required", ErrInvalid)
	}
	return c, nil
}

// JWKS returns the public half of every key, the signing key first.
func (s *Signer) JWKS() JWKS {
	set := JWKS{Keys: make([]JWK, 0, len(s.keys))}
	for _, k := range s.keys {
		set.Keys = append(set.Keys, jwkOf(k.ID, k.Public()))
	}
	return set
}
