package e2ee

import (
	"crypto/hkdf"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
)

// Sizes of the sealed plaintext's framing.
const (
	// PadBlock is the padding bucket: the framed plaintext (and so the
	// ciphertext, less its 16-byte tag) is always a multiple of it, so the
	// server learns a message's length only to within 256 bytes; every short
	// text looks alike.
	PadBlock = 256

	// CommitSize is the key commitment that opens every plaintext.
	CommitSize = 32

	tagSize   = 16
	nonceSize = 12

	// MaxContent is the largest content Seal takes: commitment, content and
	// the 0x80 marker, padded to PadBlock, plus the GCM tag, fit MaxCiphertext.
	MaxContent = (MaxCiphertext-tagSize)/PadBlock*PadBlock - CommitSize - 1
)

// commitInfo is the HKDF info string of the key commitment.
const commitInfo = "agentchat/e2ee/v1/commit"

// commitment is HKDF-SHA256(secret = message key, salt = empty,
// info = commitInfo), 32 bytes. AES-GCM alone does not commit to its key: a
// malicious sender could build one ciphertext that opens under two message
// keys to two different texts and wrap a different key for each recipient.
// Requiring the plaintext to start with the commitment of the key that
// opened it leaves at most one key (short of a 2^128 search) under which
// the envelope opens, so every recipient reads the same content.
func commitment(messageKey []byte) []byte {
	c, err := hkdf.Key(sha256.New, messageKey, nil, commitInfo, CommitSize)
	if err != nil {
		panic("e2ee: hkdf: " + err.Error()) // only for FIPS-only mode with a short key; ours are 32 bytes
	}
	return c
}

// frame builds the plaintext that GCM seals:
//
//	commitment (32) || content || 0x80 || 0x00 ... 0x00
//
// with as few zero bytes as make the total a multiple of PadBlock (at least
// one block).
func frame(commit, content []byte) []byte {
	n := CommitSize + len(content) + 1
	p := make([]byte, (n+PadBlock-1)/PadBlock*PadBlock)
	copy(p, commit)
	copy(p[CommitSize:], content)
	p[CommitSize+len(content)] = 0x80
	return p
}

// unframe checks the commitment (ErrDecrypt: the key is not the one the
// sender committed to) and then the padding, strictly (ErrPadding), and
// returns the content, which aliases p.
func unframe(p, commit []byte) ([]byte, error) {
	if len(p) < CommitSize || subtle.ConstantTimeCompare(p[:CommitSize], commit) != 1 {
		return nil, fmt.Errorf("%w: key commitment mismatch", ErrDecrypt)
	}
	if len(p)%PadBlock != 0 {
		return nil, fmt.Errorf("%w: %d bytes is not a multiple of %d", ErrPadding, len(p), PadBlock)
	}
	i := len(p) - 1
	for i >= CommitSize && p[i] == 0 {
		i--
	}
	switch {
	case i < CommitSize || p[i] != 0x80:
		return nil, fmt.Errorf("%w: no 0x80 marker", ErrPadding)
	case len(p)-i > PadBlock:
		return nil, fmt.Errorf("%w: more padding than one block", ErrPadding)
	}
	return p[CommitSize:i], nil
}
