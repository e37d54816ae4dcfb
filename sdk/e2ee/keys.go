package e2ee

import (
	"crypto/ecdh"
	"crypto/rand"
	"fmt"
	"io"
)

// KeySize is the length of X25519 public and private keys.
const KeySize = 32

// PrivateKey is a device's long-term X25519 key. It is generated on the
// device (or, for an agent, by the agent's runtime) and never leaves it; only
// PublicKey goes to the accounts key directory.
type PrivateKey struct {
	k *ecdh.PrivateKey
}

// Recipient is one device a message is sealed for, as the key directory
// lists it.
type Recipient struct {
	Device    string
	PublicKey *ecdh.PublicKey
	// SigningKey is the device's Ed25519 public key from the directory,
	// what its messages are verified with (VerifyEnvelope); nil for a
	// device without one. Seal does not use it.
	SigningKey []byte
	// User is the device's owner, Agent whether that is an agent: what a
	// client needs to choose sender keys for a group and to wrap a group
	// message's key for agent devices (SealGroup). Seal does not use them.
	User  string
	Agent bool
}

// GenerateKey makes a new device key from the system's secure random source.
func GenerateKey() (*PrivateKey, error) {
	return generateKey(rand.Reader)
}

// generateKey reads the 32 private key bytes from r itself: crypto/ecdh
// ignores custom random sources since Go 1.26, and the test vectors need
// reproducible keys.
func generateKey(r io.Reader) (*PrivateKey, error) {
	b := make([]byte, KeySize)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, fmt.Errorf("e2ee: generate key: %w", err)
	}
	return ParsePrivateKey(b)
}

// ParsePrivateKey loads a key saved with Bytes.
func ParsePrivateKey(b []byte) (*PrivateKey, error) {
	k, err := ecdh.X25519().NewPrivateKey(b)
	if err != nil {
		return nil, fmt.Errorf("%w: private key must be %d bytes", ErrKey, KeySize)
	}
	return &PrivateKey{k: k}, nil
}

// Bytes is the raw 32-byte private key, for the device's own key store only.
func (p *PrivateKey) Bytes() []byte { return p.k.Bytes() }

// PublicKey is the key to publish in the key directory.
func (p *PrivateKey) PublicKey() *ecdh.PublicKey { return p.k.PublicKey() }

// PublicKeyBytes is PublicKey's raw 32 bytes (the directory stores them as
// standard base64).
func (p *PrivateKey) PublicKeyBytes() []byte { return p.k.PublicKey().Bytes() }

// ParsePublicKey checks and loads a 32-byte X25519 public key: it refuses
// what ValidatePublicKey refuses.
func ParsePublicKey(b []byte) (*ecdh.PublicKey, error) {
	if err := ValidatePublicKey(b); err != nil {
		return nil, err
	}
	pub, err := ecdh.X25519().NewPublicKey(b)
	if err != nil { // not reached: ValidatePublicKey checked the length
		return nil, fmt.Errorf("%w: public key must be %d bytes", ErrKey, KeySize)
	}
	return pub, nil
}
