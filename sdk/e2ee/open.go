package e2ee

import (
	"crypto/ecdh"
	"fmt"
)

// Open checks env's shape (Validate) and decrypts it as device, holding priv,
// with the associated data the message arrived with. It returns the content
// Seal was given.
//
// Errors: ErrShape (and ErrVersion for a version this package does not
// read), ErrNotRecipient, ErrDecrypt (tampered, wrong key, or other
// associated data), ErrPadding (authentic but badly framed).
func Open(env *Envelope, ad AssociatedData, device string, priv *PrivateKey) ([]byte, error) {
	if err := env.Validate(); err != nil {
		return nil, err
	}
	if priv == nil {
		return nil, fmt.Errorf("%w: no private key", ErrKey)
	}
	var k *WrappedKey
	for i := range env.Keys {
		if env.Keys[i].Device == device {
			k = &env.Keys[i]
			break
		}
	}
	if k == nil {
		return nil, fmt.Errorf("%w: device %q", ErrNotRecipient, device)
	}
	adb := ad.Bytes()

	messageKey, err := unwrap(k, adb, priv)
	if err != nil {
		return nil, err
	}
	defer clear(messageKey)
	p, err := gcmOpen(messageKey, env.Nonce, env.Ciphertext, adb)
	if err != nil {
		return nil, fmt.Errorf("%w: content", ErrDecrypt)
	}
	return unframe(p, commitment(messageKey))
}

// unwrap recovers the message key from this device's wrapped key.
func unwrap(k *WrappedKey, adb []byte, priv *PrivateKey) ([]byte, error) {
	eph, err := ecdh.X25519().NewPublicKey(k.Ephemeral)
	if err != nil {
		return nil, fmt.Errorf("%w: wrapped key", ErrDecrypt)
	}
	shared, err := priv.k.ECDH(eph)
	if err != nil { // a low-order ephemeral key
		return nil, fmt.Errorf("%w: wrapped key", ErrDecrypt)
	}
	wk := wrapKey(shared, k.Ephemeral, priv.PublicKeyBytes())
	defer clear(wk)
	messageKey, err := gcmOpen(wk, k.Nonce, k.Wrapped, adb)
	if err != nil {
		return nil, fmt.Errorf("%w: wrapped key", ErrDecrypt)
	}
	return messageKey, nil
}
