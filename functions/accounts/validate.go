package function

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/agentchat/agentchat/sdk/e2ee"
)

var (
	usernamePattern  = regexp.MustCompile(`^[a-z0-9_.-]{3,32}$`)
	agentKindPattern = regexp.MustCompile(`^[a-z0-9_.-]{1,32}$`)
	// idPattern is the SDK's events.ValidID charset (user, device,
	// conversation and agent ids travel in event attributes).
	idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$`)
)

// Limits on request fields.
const (
	minPassword     = 8    // characters
	maxPassword     = 1024 // bytes: argon2 hashes all of it
	maxNameLen      = 64   // characters of a display, device or agent name
	maxTitleLen     = 128  // characters of a conversation title
	maxGroupMembers = 1024
)

func validID(s string) bool { return idPattern.MatchString(s) }

// normalizeUsername lowercases and trims, so "Alice " logs in as "alice".
func normalizeUsername(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// checkName trims a display name and checks its length; def replaces "".
func checkName(field, s, def string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		s = def
	}
	if n := utf8.RuneCountInString(s); n == 0 || n > maxNameLen || !utf8.ValidString(s) {
		return "", invalid(field, "must be 1–%d characters", maxNameLen)
	}
	return s, nil
}

// checkPublicKey requires base64 (standard alphabet) of a 32-byte X25519
// public key that e2ee.ValidatePublicKey accepts (no low-order point, no
// non-canonical encoding: a member with such a key could stop a whole
// conversation, since no client seals for it and persist refuses envelopes
// that skip a device) and returns it in canonical padded form.
func checkPublicKey(field, s string) (string, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		b, err = base64.RawStdEncoding.DecodeString(s)
	}
	if err != nil || len(b) != e2ee.KeySize {
		return "", invalid(field, "must be base64 (standard alphabet) of a 32-byte X25519 public key")
	}
	switch err := e2ee.ValidatePublicKey(b); {
	case errors.Is(err, e2ee.ErrLowOrderKey):
		p := invalid(field, "is a low-order X25519 point (anything sealed for it could be read by anyone); generate a new key pair")
		p.Code = codeLowOrderKey
		return "", p
	case err != nil:
		p := invalid(field, "is not the canonical encoding of an X25519 public key (bit 255 set or u >= 2^255-19)")
		p.Code = codeNonCanonicalKey
		return "", p
	}
	return base64.StdEncoding.EncodeToString(b), nil
}

// Problem codes of a refused public key.
const (
	codeLowOrderKey     = "low_order_key"
	codeNonCanonicalKey = "non_canonical_key"
)

// newID is prefix + 24 random hex characters, within the ValidID charset.
func newID(prefix string) string {
	b := make([]byte, 12)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}
