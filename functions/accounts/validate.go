package function

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"regexp"
	"strings"
	"unicode/utf8"
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
	maxGroupMembers = 256
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
// public key and returns it in canonical padded form.
func checkPublicKey(field, s string) (string, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		b, err = base64.RawStdEncoding.DecodeString(s)
	}
	if err != nil || len(b) != 32 {
		return "", invalid(field, "must be base64 (standard alphabet) of a 32-byte X25519 public key")
	}
	if subtle.ConstantTimeCompare(b, make([]byte, 32)) == 1 {
		return "", invalid(field, "must not be all zeros")
	}
	return base64.StdEncoding.EncodeToString(b), nil
}

// newID is prefix + 24 random hex characters, within the ValidID charset.
func newID(prefix string) string {
	b := make([]byte, 12)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}
