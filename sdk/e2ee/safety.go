package e2ee

import (
	"bytes"
	"crypto/sha512"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
)

// Safety numbers (docs/e2ee.md, "Safety numbers"): Signal's
// NumericFingerprint (version 0, 5,200 iterations of SHA-512) over a
// user's identity keys — here, every current device's X25519 public key
// followed by its Ed25519 signing key, if it has one — so that two people
// who compare their 60 digits (in person, or over another channel) know
// that no device was slipped into either's key list. It changes whenever
// either side adds, loses or replaces a device.

// SafetyIterations is how often a fingerprint is hashed (Signal's).
const SafetyIterations = 5200

// safetyVersion is the fingerprint format's version (Signal's 0).
const safetyVersion = 0

// DeviceIdentity is one device's identity keys: its X25519 public key and
// its Ed25519 signing key (nil for a device from before signing).
type DeviceIdentity struct {
	PublicKey  []byte
	SigningKey []byte
}

// IdentityKeyBytes is a user's identity as the fingerprint hashes it:
// each device's PublicKey||SigningKey, sorted bytewise, concatenated —
// Signal's "logical key bytes" of a multi-key identity.
func IdentityKeyBytes(devices []DeviceIdentity) []byte {
	keys := make([][]byte, len(devices))
	for i, d := range devices {
		keys[i] = append(slices.Clone(d.PublicKey), d.SigningKey...)
	}
	slices.SortFunc(keys, bytes.Compare)
	return bytes.Join(keys, nil)
}

// Fingerprint is one user's 30 digits: hash = SHA-512(version (2 bytes,
// big-endian) || keys || userID), then SafetyIterations times hash =
// SHA-512(hash || keys) (the first of those included), and the first 30
// bytes of the result read as six 5-byte big-endian numbers, each mod
// 100,000 as 5 digits.
func Fingerprint(userID string, keys []byte) string {
	hash := binary.BigEndian.AppendUint16(nil, safetyVersion)
	hash = append(append(hash, keys...), userID...)
	for range SafetyIterations {
		h := sha512.New()
		h.Write(hash)
		h.Write(keys)
		hash = h.Sum(nil)
	}
	var b strings.Builder
	for i := 0; i < 30; i += 5 {
		var n uint64
		for _, c := range hash[i : i+5] {
			n = n<<8 | uint64(c)
		}
		fmt.Fprintf(&b, "%05d", n%100000)
	}
	return b.String()
}

// SafetyNumber is the 60 digits two users compare: both fingerprints,
// the smaller first, so that both sides compute the same.
func SafetyNumber(userA string, keysA []byte, userB string, keysB []byte) string {
	a, b := Fingerprint(userA, keysA), Fingerprint(userB, keysB)
	if b < a {
		a, b = b, a
	}
	return a + b
}

// FormatSafetyNumber shows 60 digits in 12 groups of 5.
func FormatSafetyNumber(n string) string {
	var groups []string
	for i := 0; i+5 <= len(n); i += 5 {
		groups = append(groups, n[i:i+5])
	}
	return strings.Join(groups, " ")
}
