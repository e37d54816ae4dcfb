package e2ee

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
)

// wrapInfo is the HKDF info string of a wrapping key.
const wrapInfo = "agentchat/e2ee/v1/wrap"

// Seal encrypts content for the recipient devices and binds it to ad.
//
// A fresh random 32-byte message key seals the framed content (commitment,
// content, padding; see frame) with AES-256-GCM under a random 12-byte nonce
// and ad.Bytes() as associated data. For each recipient a fresh ephemeral
// X25519 key agrees a secret with the recipient's public key; HKDF-SHA256
// turns it into a wrapping key that seals the message key (AES-256-GCM,
// random nonce, the same associated data). docs/e2ee.md spells out the bytes.
//
// Recipients are every device that should read the message: all current
// devices of every member, the sender's other devices, and the sending device
// itself if it wants to read its own message back after a sync.
func Seal(content []byte, ad AssociatedData, recipients []Recipient) (*Envelope, error) {
	return sealWith(rand.Reader, content, ad, recipients)
}

// sealWith is Seal reading all its randomness from r, in this order: message
// key (32), content nonce (12), then per recipient in order its ephemeral
// private key (32) and wrap nonce (12). The test vectors replay it.
func sealWith(r io.Reader, content []byte, ad AssociatedData, recipients []Recipient) (*Envelope, error) {
	if len(content) > MaxContent {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrTooLarge, len(content), MaxContent)
	}
	if err := ad.check(); err != nil {
		return nil, err
	}
	if err := checkRecipients(recipients); err != nil {
		return nil, err
	}
	adb := ad.Bytes()

	secret := make([]byte, 32+nonceSize)
	if _, err := io.ReadFull(r, secret); err != nil {
		return nil, fmt.Errorf("e2ee: seal: random: %w", err)
	}
	messageKey, nonce := secret[:32], secret[32:]
	defer clear(messageKey)

	ct, err := gcmSeal(messageKey, nonce, frame(commitment(messageKey), content), adb)
	if err != nil {
		return nil, err
	}
	env := &Envelope{V: Version, Nonce: nonce, Ciphertext: ct, Keys: make([]WrappedKey, len(recipients))}
	for i, rc := range recipients {
		k, err := wrap(r, messageKey, adb, rc)
		if err != nil {
			return nil, fmt.Errorf("e2ee: seal: recipient %q: %w", rc.Device, err)
		}
		env.Keys[i] = k
	}
	return env, nil
}

// wrap seals the message key for one recipient device.
func wrap(r io.Reader, messageKey, adb []byte, rc Recipient) (WrappedKey, error) {
	eph, err := generateKey(r)
	if err != nil {
		return WrappedKey{}, err
	}
	nonce := make([]byte, nonceSize)
	if _, err := io.ReadFull(r, nonce); err != nil {
		return WrappedKey{}, fmt.Errorf("random: %w", err)
	}
	shared, err := eph.k.ECDH(rc.PublicKey)
	if err != nil {
		return WrappedKey{}, fmt.Errorf("%w: low-order public key", ErrRecipients)
	}
	ephPub := eph.PublicKeyBytes()
	wk := wrapKey(shared, ephPub, rc.PublicKey.Bytes())
	defer clear(wk)
	wrapped, err := gcmSeal(wk, nonce, messageKey, adb)
	if err != nil {
		return WrappedKey{}, err
	}
	return WrappedKey{Device: rc.Device, Ephemeral: ephPub, Nonce: nonce, Wrapped: wrapped}, nil
}

// wrapKey is HKDF-SHA256(secret = shared, salt = ephemeral public key ||
// recipient public key, info = wrapInfo), 32 bytes. The salt binds the key to
// this exact pair of public keys.
func wrapKey(shared, ephPub, recipientPub []byte) []byte {
	salt := make([]byte, 0, 2*KeySize)
	salt = append(append(salt, ephPub...), recipientPub...)
	k, err := hkdf.Key(sha256.New, shared, salt, wrapInfo, 32)
	if err != nil {
		panic("e2ee: hkdf: " + err.Error()) // only in FIPS-only mode with a short secret; ours is 32 bytes
	}
	return k
}

// checkRecipients refuses what would make an envelope Validate rejects, or
// one nobody could open, or one sealed for a key ValidatePublicKey refuses
// (a low-order key would hand the message key to anyone).
func checkRecipients(rs []Recipient) error {
	switch {
	case len(rs) == 0:
		return fmt.Errorf("%w: none", ErrRecipients)
	case len(rs) > MaxRecipients:
		return fmt.Errorf("%w: %d, at most %d", ErrRecipients, len(rs), MaxRecipients)
	}
	seen := make(map[string]bool, len(rs))
	for i, rc := range rs {
		switch {
		case rc.Device == "" || len(rc.Device) > MaxDeviceID:
			return fmt.Errorf("%w: [%d]: bad device id", ErrRecipients, i)
		case seen[rc.Device]:
			return fmt.Errorf("%w: [%d]: device %q twice", ErrRecipients, i, rc.Device)
		case rc.PublicKey == nil || rc.PublicKey.Curve() != ecdh.X25519():
			return fmt.Errorf("%w: [%d]: device %q: not an X25519 public key", ErrRecipients, i, rc.Device)
		}
		if err := ValidatePublicKey(rc.PublicKey.Bytes()); err != nil {
			return fmt.Errorf("%w: [%d]: device %q: %w", ErrRecipients, i, rc.Device, err)
		}
		seen[rc.Device] = true
	}
	return nil
}

// newGCM is AES-256-GCM with the standard 12-byte nonce and 16-byte tag.
// It fails only for a key that is not 32 bytes, or in FIPS 140-only mode,
// which forbids caller-chosen GCM nonces.
func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("e2ee: aes: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("e2ee: gcm: %w", err)
	}
	return aead, nil
}

func gcmSeal(key, nonce, plaintext, ad []byte) ([]byte, error) {
	aead, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	return aead.Seal(nil, nonce, plaintext, ad), nil
}

// gcmOpen's errors are all authentication failures: keys are 32 bytes and
// nonces 12 (Validate), so newGCM cannot fail where gcmSeal did not.
func gcmOpen(key, nonce, ciphertext, ad []byte) ([]byte, error) {
	aead, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	return aead.Open(nil, nonce, ciphertext, ad)
}
