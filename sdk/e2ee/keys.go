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

// ParsePublicKey checks and loads a 32-byte X25519 public key. It refuses
// low-order points, whose shared secret with any key is all zeros: such a key
// in the directory would make every message "encrypted" to a known key.
func ParsePublicKey(b []byte) (*ecdh.PublicKey, error) {
	pub, err := ecdh.X25519().NewPublicKey(b)
	if err != nil {
		return nil, fmt.Errorf("%w: public key must be %d bytes", ErrKey, KeySize)
	}
	if err := checkPublicKey(pub); err != nil {
		return nil, err
	}
	return pub, nil
}

// probe is a fixed private key used only to test public keys: X25519 with a
// clamped scalar (a multiple of the cofactor 8) gives all zeros, which
// crypto/ecdh reports as an error, exactly when the point has small order.
var probe, _ = ecdh.X25519().NewPrivateKey([]byte("agentchat/e2ee/v1 low-order test"))

func checkPublicKey(pub *ecdh.PublicKey) error {
	if pub == nil || pub.Curve() != ecdh.X25519() {
		return fmt.Errorf("%w: not an X25519 public key", ErrKey)
	}
	if _, err := probe.ECDH(pub); err != nil {
		return fmt.Errorf("%w: low-order public key", ErrKey)
	}
	return nil
}
