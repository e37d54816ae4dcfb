// Package token issues and verifies agentchat's access tokens: JWTs signed
// with Ed25519 (alg EdDSA) under a key id, published as a JWKS so that the
// connector and any other verifier need no secret.
package token

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
)

// Key is one signing key and the id (JWT header kid) it is published under.
type Key struct {
	ID      string
	Private ed25519.PrivateKey
}

// Public is the key's public half.
func (k Key) Public() ed25519.PublicKey { return k.Private.Public().(ed25519.PublicKey) }

var kidPattern = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// ParseKeys reads ACCOUNTS_SIGNING_KEYS: "kid:seed[,kid:seed...]" where seed
// is a 32-byte Ed25519 seed in base64 (standard or URL alphabet, padded or
// not). The first key signs; all verify and are published. Rotation: add
// the new key second, wait until every verifier has fetched the JWKS, move
// it first, and drop the old one after the access-token TTL has passed.
func ParseKeys(s string) ([]Key, error) {
	var keys []Key
	seen := map[string]bool{}
	for i, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		kid, enc, ok := strings.Cut(item, ":")
		if !ok || !kidPattern.MatchString(kid) {
			return nil, fmt.Errorf("token: signing key #%d: want kid:base64seed with kid of [A-Za-z0-9_.-]", i+1)
		}
		if seen[kid] {
			return nil, fmt.Errorf("token: signing key #%d: duplicate kid %q", i+1, kid)
		}
		seed, err := decodeB64(enc)
		if err != nil || len(seed) != ed25519.SeedSize {
			return nil, fmt.Errorf("token: signing key %q: seed must be %d bytes of base64", kid, ed25519.SeedSize)
		}
		seen[kid] = true
		keys = append(keys, Key{ID: kid, Private: ed25519.NewKeyFromSeed(seed)})
	}
	return keys, nil
}

// FormatKey writes k the way ParseKeys reads it (for tools and tests).
func FormatKey(k Key) string {
	return k.ID + ":" + base64.StdEncoding.EncodeToString(k.Private.Seed())
}

// GenerateKey makes a random key with a random kid; it is what accounts uses
// when no keys are configured (development only: tokens die with the process).
func GenerateKey() (Key, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return Key{}, fmt.Errorf("token: generate key: %w", err)
	}
	id := make([]byte, 6)
	rand.Read(id)
	return Key{ID: "ephemeral-" + hex.EncodeToString(id), Private: priv}, nil
}

func decodeB64(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	if strings.ContainsAny(s, "-_") {
		return base64.RawURLEncoding.DecodeString(s)
	}
	return base64.RawStdEncoding.DecodeString(s)
}
