package e2ee

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
)

// mediaAD is the associated data of every media blob. The blob's key is
// fresh and travels only inside a sealed Content, which is what binds the
// blob to a conversation and a sender.
const mediaAD = "agentchat/e2ee/v1/media"

const mediaKeySize = 32

// MediaOverhead is what sealing adds to an attachment: a blob is always
// this many bytes longer than the file (its nonce and GCM tag), which
// lets a recipient know a blob's size from the file size in the signed
// message before fetching it.
const MediaOverhead = nonceSize + tagSize

// SealedMedia is an encrypted attachment ready to upload, and the fields a
// Content's Media needs to find and open it.
type SealedMedia struct {
	Blob   []byte // nonce (12) || AES-256-GCM ciphertext and tag
	Key    []byte // 32 bytes, for Media.Key
	SHA256 string // hex SHA-256 of Blob, for the upload request and Media.SHA256
}

// SealMedia encrypts an attachment under a fresh random key:
// Blob = nonce || AES-256-GCM(key, nonce, data, AD = "agentchat/e2ee/v1/media").
// Media sizes are not padded: the store sees each blob's size.
func SealMedia(data []byte) (*SealedMedia, error) {
	return sealMediaWith(rand.Reader, data)
}

func sealMediaWith(r io.Reader, data []byte) (*SealedMedia, error) {
	secret := make([]byte, mediaKeySize+nonceSize)
	if _, err := io.ReadFull(r, secret); err != nil {
		return nil, fmt.Errorf("e2ee: seal media: random: %w", err)
	}
	key, nonce := secret[:mediaKeySize], secret[mediaKeySize:]
	aead, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	blob := aead.Seal(append([]byte(nil), nonce...), nonce, data, []byte(mediaAD))
	sum := sha256.Sum256(blob)
	return &SealedMedia{Blob: blob, Key: key, SHA256: hex.EncodeToString(sum[:])}, nil
}

// OpenMedia decrypts a blob fetched from the media store with the key from
// its Media. ErrDecrypt covers a swapped, truncated or tampered blob.
func OpenMedia(blob, key []byte) ([]byte, error) {
	if len(key) != mediaKeySize {
		return nil, fmt.Errorf("%w: media key must be %d bytes", ErrKey, mediaKeySize)
	}
	if len(blob) < nonceSize+tagSize {
		return nil, fmt.Errorf("%w: media blob too short", ErrDecrypt)
	}
	data, err := gcmOpen(key, blob[:nonceSize], blob[nonceSize:], []byte(mediaAD))
	if err != nil {
		return nil, fmt.Errorf("%w: media blob", ErrDecrypt)
	}
	return data, nil
}
