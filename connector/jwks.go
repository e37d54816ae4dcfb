package connector

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/agentchat/agentchat/sdk/events"
)

// JWKSVerifier verifies accounts' tokens (JWT, EdDSA/Ed25519, header kid)
// with the public keys accounts publishes as a JWKS. Keys are fetched on
// first use and cached; an unknown kid (a rotated key) triggers a refetch,
// at most once per MinRefresh so a flood of forged kids cannot turn into a
// flood of requests to accounts; the set is also refetched when older than
// MaxAge so a withdrawn key stops working.
type JWKSVerifier struct {
	URL        string
	Audience   string
	Issuer     string
	Client     *http.Client
	MinRefresh time.Duration
	MaxAge     time.Duration

	fetchMu sync.Mutex // serialises fetches; taken before mu

	mu          sync.Mutex // guards the fields below
	keys        map[string]ed25519.PublicKey
	fetched     time.Time // last successful fetch
	lastAttempt time.Time
}

var _ Verifier = (*JWKSVerifier)(nil)

// NewJWKSVerifier returns a verifier for tokens with the given audience and
// issuer, signed by a key from the JWKS at url.
func NewJWKSVerifier(url, audience, issuer string) *JWKSVerifier {
	return &JWKSVerifier{URL: url, Audience: audience, Issuer: issuer,
		Client: &http.Client{Timeout: 5 * time.Second}, MinRefresh: 5 * time.Second, MaxAge: 10 * time.Minute}
}

// Errors Verify wraps, so callers can count why tokens fail.
var (
	// ErrNoToken: the request carried no bearer token.
	ErrNoToken = errors.New("connector: no token")
	// ErrUnknownKey: the token names a key the JWKS does not have.
	ErrUnknownKey = errors.New("connector: token signed by an unknown key")
)

type tokenClaims struct {
	Device string `json:"did"`
	jwt.RegisteredClaims
}

// Verify checks signature (EdDSA only), exp (required; accepted until
// protocol.TokenLeeway past it, which Identity.Expires says), aud, iss, and
// that sub and did are valid ids.
func (v *JWKSVerifier) Verify(ctx context.Context, token string) (Identity, error) {
	if token == "" {
		return Identity{}, ErrNoToken
	}
	var c tokenClaims
	_, err := jwt.ParseWithClaims(token, &c, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		if kid == "" {
			return nil, fmt.Errorf("connector: token has no kid")
		}
		return v.key(ctx, kid)
	}, tokenParserOptions(v.Audience, v.Issuer)...)
	if err != nil {
		return Identity{}, fmt.Errorf("connector: verify token: %w", err)
	}
	if !events.ValidID(c.Subject) || !events.ValidID(c.Device) {
		return Identity{}, fmt.Errorf("connector: verify token: sub and did must be valid ids")
	}
	return Identity{User: c.Subject, Device: c.Device, Expires: acceptedUntil(c.ExpiresAt.Time)}, nil
}

// key returns the public key kid names, fetching the set when it is unknown
// or stale (within the refresh limits).
func (v *JWKSVerifier) key(ctx context.Context, kid string) (ed25519.PublicKey, error) {
	v.mu.Lock()
	k, ok := v.keys[kid]
	stale := time.Since(v.fetched) > v.MaxAge
	v.mu.Unlock()
	if ok && !stale {
		return k, nil
	}
	if err := v.refresh(ctx); err != nil && !ok {
		return nil, err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if k, ok := v.keys[kid]; ok {
		return k, nil
	}
	return nil, ErrUnknownKey
}

// refresh refetches the key set unless another fetch happened less than
// MinRefresh ago. A failed fetch keeps the keys already known.
func (v *JWKSVerifier) refresh(ctx context.Context) error {
	v.fetchMu.Lock()
	defer v.fetchMu.Unlock()
	v.mu.Lock()
	if time.Since(v.lastAttempt) < v.MinRefresh {
		v.mu.Unlock()
		return nil
	}
	v.lastAttempt = time.Now()
	v.mu.Unlock()

	keys, err := v.fetch(ctx)
	if err != nil {
		return err
	}
	v.mu.Lock()
	v.keys, v.fetched = keys, time.Now()
	v.mu.Unlock()
	return nil
}

// jwk is the part of a JSON Web Key this verifier reads (RFC 8037 OKP).
type jwk struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	Kid string `json:"kid"`
	X   string `json:"x"`
	Use string `json:"use,omitempty"`
}

func (v *JWKSVerifier) fetch(ctx context.Context) (map[string]ed25519.PublicKey, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.URL, nil)
	if err != nil {
		return nil, fmt.Errorf("connector: jwks: %w", err)
	}
	resp, err := v.Client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("connector: jwks: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("connector: jwks: %s answered %d", v.URL, resp.StatusCode)
	}
	var set struct {
		Keys []jwk `json:"keys"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&set); err != nil {
		return nil, fmt.Errorf("connector: jwks: decode: %w", err)
	}
	keys := make(map[string]ed25519.PublicKey, len(set.Keys))
	for _, k := range set.Keys {
		if k.Kty != "OKP" || k.Crv != "Ed25519" || k.Kid == "" || (k.Use != "" && k.Use != "sig") {
			continue
		}
		x, err := base64.RawURLEncoding.DecodeString(k.X)
		if err != nil || len(x) != ed25519.PublicKeySize {
			continue
		}
		keys[k.Kid] = ed25519.PublicKey(x)
	}
	return keys, nil
}
