package e2ee

import (
	"crypto/ecdh"
	"crypto/hpke"
	"fmt"
)

// The pairwise channel's primitive, beside the v1 envelope (which it does
// not change): HPKE, RFC 9180, base mode, with one suite —
// DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-128-GCM (KEM 0x0020,
// KDF 0x0001, AEAD 0x0001). That is MLS's mandatory suite
// (MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519, RFC 9420) and the RFC's
// first set of test vectors; WebCrypto has AES-GCM but not ChaCha20-Poly1305,
// and X25519 sets the security level at 128 bits, which AES-256 would not
// raise. The recipient key is the device's existing X25519 key (the one in
// the key directory): HPKE's labels ("HPKE-v1", the suite id) keep its key
// derivation apart from the v1 envelope's.
//
// There is no authenticated mode (crypto/hpke has none): HPKE proves only
// that the sender knew the recipient's public key. Who sent it is for a
// signature (Sign) over what the sender seals.
var (
	hpkeKEM  = hpke.DHKEM(ecdh.X25519())
	hpkeKDF  = hpke.HKDFSHA256()
	hpkeAEAD = hpke.AES128GCM()
)

// HPKEEncSize is the length of HPKE's encapsulated key (enc): the sender's
// ephemeral X25519 public key.
const HPKEEncSize = 32

// HPKESeal encrypts plaintext for one device's X25519 public key (32 bytes,
// checked by ValidatePublicKey) in a single-shot HPKE base-mode context:
// info names the purpose (a protocol label: both sides must agree on it),
// aad binds public data the recipient must present too. It returns enc
// (HPKEEncSize bytes) and the ciphertext (len(plaintext) + 16). A context
// seals one message: every call draws a fresh ephemeral key.
func HPKESeal(recipient, info, aad, plaintext []byte) (enc, ciphertext []byte, err error) {
	if err := ValidatePublicKey(recipient); err != nil {
		return nil, nil, err
	}
	pk, err := hpkeKEM.NewPublicKey(recipient)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrKey, err)
	}
	enc, s, err := hpke.NewSender(pk, hpkeKDF, hpkeAEAD, info)
	if err != nil {
		return nil, nil, fmt.Errorf("e2ee: hpke setup: %w", err)
	}
	ciphertext, err = s.Seal(aad, plaintext)
	if err != nil {
		return nil, nil, fmt.Errorf("e2ee: hpke seal: %w", err)
	}
	return enc, ciphertext, nil
}

// HPKEOpen decrypts what HPKESeal sealed for this device's key, with the
// same info and aad. Every failure to authenticate (another key, info or
// aad, a changed enc or ciphertext) is ErrDecrypt, not told apart.
func HPKEOpen(priv *PrivateKey, enc, info, aad, ciphertext []byte) ([]byte, error) {
	if len(enc) != HPKEEncSize {
		return nil, ErrDecrypt
	}
	sk, err := hpke.NewDHKEMPrivateKey(priv.k)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKey, err)
	}
	r, err := hpke.NewRecipient(enc, sk, hpkeKDF, hpkeAEAD, info)
	if err != nil { // a low-order enc: the DH gives all zeros
		return nil, ErrDecrypt
	}
	pt, err := r.Open(aad, ciphertext)
	if err != nil {
		return nil, ErrDecrypt
	}
	return pt, nil
}
