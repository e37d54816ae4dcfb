package e2ee

import "errors"

// Errors returned by Seal and Open. Each is a sentinel: callers test with
// errors.Is, and the wrapping message never contains key or content bytes.
var (
	// ErrNotRecipient means the envelope carries no wrapped key for the
	// device: the sender did not know the device (a stale key directory) or
	// the message predates it. Nothing was decrypted.
	ErrNotRecipient = errors.New("e2ee: no key for this device")

	// ErrDecrypt means authentication failed: the ciphertext or a wrapped
	// key was changed, the private key is not the one the key was wrapped
	// for, or the associated data differs from what the sender bound (an
	// envelope replayed into another conversation, under another sender
	// device or another client message id). The causes are deliberately not
	// told apart.
	ErrDecrypt = errors.New("e2ee: decryption failed")

	// ErrVersion means the envelope is of a format version this package does
	// not read. Validate's error for it also wraps ErrShape.
	ErrVersion = errors.New("e2ee: unsupported envelope version")

	// ErrPadding means the envelope authenticated but its plaintext is not
	// framed as Seal frames it: the sender's implementation is broken.
	ErrPadding = errors.New("e2ee: malformed plaintext padding")

	// ErrTooLarge means the content does not fit MaxContent.
	ErrTooLarge = errors.New("e2ee: content too large")

	// ErrRecipients means Seal was given no recipients, too many, a bad or
	// repeated device id, or a missing public key or one ValidatePublicKey
	// refuses (the error then wraps ValidatePublicKey's too).
	ErrRecipients = errors.New("e2ee: bad recipients")

	// ErrAssociatedData means a field of the associated data is empty; Seal
	// refuses to bind a message to nothing.
	ErrAssociatedData = errors.New("e2ee: incomplete associated data")

	// ErrKey means a key's bytes are not a usable X25519 key (or, from
	// ValidateSigningKey and Verify, Ed25519 key).
	ErrKey = errors.New("e2ee: bad key")

	// ErrSignature means an Ed25519 signature does not verify: another
	// key signed, the message differs, or the signature was changed or
	// made by no key at all. A client shows such a message as unverified.
	ErrSignature = errors.New("e2ee: signature does not verify")

	// ErrUnsigned means an envelope carries no signature (VerifyEnvelope):
	// its sender's client does not sign, or whoever made it had no key to
	// sign with. A client shows such a message as unverified.
	ErrUnsigned = errors.New("e2ee: envelope is not signed")
)
