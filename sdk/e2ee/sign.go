package e2ee

import (
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"io"
	"math/big"
	"slices"
)

// Ed25519 (RFC 8032) is the signature beside the v1 envelope: each device
// holds a signing key next to its X25519 key, publishes the public half in
// the key directory (with a binding, BindingBytes), and signs every
// envelope it sends (SignEnvelope; docs/e2ee.md, "Signed messages").
//
// Sign and Verify are the bare RFC 8032 operations (so that the published
// vectors check them): callers sign an encoding that starts with a label of
// their own ("agentchat/..."), so that a signature made for one purpose
// can never be read as one made for another.
const (
	SigningSeedSize      = ed25519.SeedSize      // a signing key's private half, as stored
	SigningPublicKeySize = ed25519.PublicKeySize // what the key directory lists
	SignatureSize        = ed25519.SignatureSize
)

// SigningKey is a device's Ed25519 identity key. Like PrivateKey, it is
// made on the device and never leaves it.
type SigningKey struct {
	k ed25519.PrivateKey
}

// GenerateSigningKey makes a new signing key from the system's secure
// random source.
func GenerateSigningKey() (*SigningKey, error) {
	return generateSigningKey(rand.Reader)
}

func generateSigningKey(r io.Reader) (*SigningKey, error) {
	seed := make([]byte, SigningSeedSize)
	if _, err := io.ReadFull(r, seed); err != nil {
		return nil, fmt.Errorf("e2ee: generate signing key: %w", err)
	}
	return ParseSigningKey(seed)
}

// ParseSigningKey loads a key saved with Seed (RFC 8032's 32-byte secret
// key).
func ParseSigningKey(seed []byte) (*SigningKey, error) {
	if len(seed) != SigningSeedSize {
		return nil, fmt.Errorf("%w: signing key seed must be %d bytes", ErrKey, SigningSeedSize)
	}
	return &SigningKey{k: ed25519.NewKeyFromSeed(seed)}, nil
}

// Seed is the 32-byte secret key, for the device's own key store only.
func (k *SigningKey) Seed() []byte { return k.k.Seed() }

// PublicKeyBytes is the 32-byte public key to publish.
func (k *SigningKey) PublicKeyBytes() []byte { return slices.Clone(k.k.Public().(ed25519.PublicKey)) }

// Sign returns the RFC 8032 signature of message (deterministic: the same
// key and message give the same 64 bytes).
func (k *SigningKey) Sign(message []byte) []byte { return ed25519.Sign(k.k, message) }

// Verify checks sig over message against a public key. It returns nil only
// when the key passes ValidateSigningKey (else that error) and the
// signature verifies (else ErrSignature). The key check matters: under a
// key of small order a signature can be made without any private key, and
// crypto/ed25519 and WebCrypto both accept it.
func Verify(publicKey, message, sig []byte) error {
	if err := ValidateSigningKey(publicKey); err != nil {
		return err
	}
	if len(sig) != SignatureSize || !ed25519.Verify(publicKey, message, sig) {
		return ErrSignature
	}
	return nil
}

// ValidateSigningKey is the one check of a device's Ed25519 public key (the
// key directory should run it at registration, as it runs
// ValidatePublicKey). Read as RFC 8032 5.1.3 reads it (y little-endian in
// bits 0–254, the sign of x in bit 255), it refuses
//
//   - anything but 32 bytes (ErrKey);
//   - a point of small order (ErrLowOrderKey): y mod p is 0, 1, p-1 or the
//     y of a point of order 8, whatever the sign bit: a signature under it
//     proves nothing (see Verify);
//   - a non-canonical encoding (ErrNonCanonicalKey): y >= p otherwise;
//   - a y with no point on the curve (ErrKey).
//
// Errors never contain the key's bytes.
func ValidateSigningKey(b []byte) error {
	if len(b) != SigningPublicKeySize {
		return fmt.Errorf("%w: signing public key must be %d bytes, not %d", ErrKey, SigningPublicKeySize, len(b))
	}
	be := slices.Clone(b)
	slices.Reverse(be)
	y := new(big.Int).SetBytes(be)
	y.SetBit(y, 255, 0)
	if isSmallOrderY(new(big.Int).Mod(y, fieldP)) {
		return ErrLowOrderKey
	}
	if y.Cmp(fieldP) >= 0 {
		return ErrNonCanonicalKey
	}
	// x² = (y² - 1) / (d·y² + 1) must be a square mod p (Euler's
	// criterion); it is not 0 here, since y is not ±1.
	y2 := new(big.Int).Mul(y, y)
	num := new(big.Int).Sub(y2, big.NewInt(1))
	den := new(big.Int).Add(new(big.Int).Mul(edwardsD, y2), big.NewInt(1))
	x2 := num.Mul(num, den.ModInverse(den.Mod(den, fieldP), fieldP))
	x2.Mod(x2, fieldP)
	if new(big.Int).Exp(x2, halfPMinus1, fieldP).Cmp(big.NewInt(1)) != 0 {
		return fmt.Errorf("%w: signing public key is not a point on edwards25519", ErrKey)
	}
	return nil
}

var (
	// edwardsD is edwards25519's d = -121665/121666 mod p.
	edwardsD = func() *big.Int {
		n := new(big.Int).Sub(fieldP, big.NewInt(121665))
		inv := new(big.Int).ModInverse(big.NewInt(121666), fieldP)
		return n.Mod(n.Mul(n, inv), fieldP)
	}()
	halfPMinus1 = new(big.Int).Rsh(new(big.Int).Sub(fieldP, big.NewInt(1)), 1)

	// smallOrderY are the y-coordinates of edwards25519's eight points of
	// small order: 0 (the two of order 4), 1 (the identity), p-1 (order 2)
	// and the two y of the four points of order 8 — the libsodium
	// blocklist's values read modulo p.
	smallOrderY = func() []*big.Int {
		o8a, _ := new(big.Int).SetString("05fc536d880238b13933c6d305acdfd5f098eff289f4c345b027b2c28f95e826", 16)
		o8b, _ := new(big.Int).SetString("7a03ac9277fdc74ec6cc392cfa53202a0f67100d760b3cba4fd84d3d706a17c7", 16)
		return []*big.Int{big.NewInt(0), big.NewInt(1), new(big.Int).Sub(fieldP, big.NewInt(1)), o8a, o8b}
	}()
)

func isSmallOrderY(y *big.Int) bool {
	return slices.ContainsFunc(smallOrderY, func(s *big.Int) bool { return s.Cmp(y) == 0 })
}
