package token

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
)

// JWK is one public key of a JWKS, in the OKP form of RFC 8037.
type JWK struct {
	Kty string `json:"kty"` // "OKP"
	Crv string `json:"crv"` // "Ed25519"
	X   string `json:"x"`   // base64url public key
	Kid string `json:"kid"`
	Use string `json:"use,omitempty"` // "sig"
	Alg string `json:"alg,omitempty"` // "EdDSA"
}

// JWKS is the document served at /.well-known/jwks.json.
type JWKS struct {
	Keys []JWK `json:"keys"`
}

func jwkOf(id string, pub ed25519.PublicKey) JWK {
	return JWK{Kty: "OKP", Crv: "Ed25519", X: base64.RawURLEncoding.EncodeToString(pub), Kid: id, Use: "sig", Alg: "EdDSA"}
}

// PublicKeys returns the Ed25519 keys of a JWKS by kid, skipping keys of
// other types; verifiers (and tests) build their key set from it.
func (s JWKS) PublicKeys() (map[string]ed25519.PublicKey, error) {
	out := map[string]ed25519.PublicKey{}
	for _, k := range s.Keys {
		if k.Kty != "OKP" || k.Crv != "Ed25519" {
			continue
		}
		x, err := base64.RawURLEncoding.DecodeString(k.X)
		if err != nil || len(x) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("token: jwks: key %q: bad x", k.Kid)
		}
		out[k.Kid] = ed25519.PublicKey(x)
	}
	if len(out) == 0 {
		return nil, errors.New("token: jwks: no Ed25519 keys")
	}
	return out, nil
}
