package client

import (
	"crypto/rand"
	"encoding/hex"
	"regexp"
)

// newMessageID is a client message id: 128 random bits in hex, within the
// id charset every hop accepts (events.ValidID) and unguessable, since it is
// part of the associated data and the dedupe key.
func newMessageID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}

// idPattern is events.ValidID's, repeated so the client does not import the
// event catalog (and with it the CloudEvents SDK).
var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$`)

func validID(s string) bool { return idPattern.MatchString(s) }
