package e2ee

import (
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
)

// Labels of the two statements a device signs (docs/e2ee.md, "Signed
// messages"). Each signed encoding starts with its label, so a signature
// made for one can never be taken for the other, nor for any other use of
// the key.
const (
	envelopeSigLabel = "agentchat/e2ee/v1/sig"
	bindingLabel     = "agentchat/e2ee/v1/device-binding"
	agentSigningInfo = "agentchat/e2ee/v1/agent-signing-key"
)

// appendField appends a uint32 big-endian length and the bytes, as the
// associated data does: no two field lists encode alike.
func appendField(b []byte, f []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(f)))
	return append(b, f...)
}

// SignedBytes is what the sending device signs for an envelope, and what a
// recipient verifies (docs/e2ee.md has the layout):
//
//	"agentchat/e2ee/v1/sig"                         21 bytes ASCII
//	uint32 V
//	uint32 len || conversation
//	uint32 len || senderDevice
//	uint32 Epoch || uint32 Index                     (v2 only)
//	uint32 len || Nonce
//	uint32 len || Ciphertext
//	uint32 len(Keys) || for each: uint32 len || Device   (v1 only)
//
// The wrapped keys themselves are not signed, only (v1) whom they are
// for: a wrapped key cannot change what the ciphertext opens to (the key
// commitment). A v2 envelope signs no key list at all: each device gets
// it with its own wrapped key at most (the connector leaves the others
// out), so a list could not be checked. V comes first, so another
// format's signed bytes can never match these. The client message id is
// not here because the ciphertext's GCM tag already binds it (associated
// data).
func (e *Envelope) SignedBytes(conversation, senderDevice string) []byte {
	n := len(envelopeSigLabel) + 4 + 24 + len(conversation) + len(senderDevice) + len(e.Nonce) + len(e.Ciphertext) + 4
	for _, k := range e.Keys {
		n += 4 + len(k.Device)
	}
	b := make([]byte, 0, n)
	b = append(b, envelopeSigLabel...)
	b = binary.BigEndian.AppendUint32(b, uint32(e.V))
	b = appendField(b, []byte(conversation))
	b = appendField(b, []byte(senderDevice))
	if e.V != Version {
		// Which chain key sealed it: a member holding the chain cannot
		// move a signed ciphertext to another position (its GCM tag
		// would fail anyway: another index is another key).
		b = binary.BigEndian.AppendUint32(b, e.Epoch)
		b = binary.BigEndian.AppendUint32(b, e.Index)
	}
	b = appendField(b, e.Nonce)
	b = appendField(b, e.Ciphertext)
	if e.V != Version {
		return b
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(e.Keys)))
	for _, k := range e.Keys {
		b = appendField(b, []byte(k.Device))
	}
	return b
}

// SignEnvelope sets env.Sig: the sending device's signature of
// env.SignedBytes(conversation, senderDevice). Sign after Seal, before
// sending; any later change to a signed field needs a new signature.
func SignEnvelope(env *Envelope, conversation, senderDevice string, key *SigningKey) {
	env.Sig = key.Sign(env.SignedBytes(conversation, senderDevice))
}

// VerifyEnvelope checks env.Sig against the sender device's signing key
// from the key directory, for the conversation and sender device the
// message arrived with. It returns nil only for a signature that verifies;
// ErrUnsigned for none (an old client, or a forger who has no key);
// ValidateSigningKey's error when the directory's key is missing or refused;
// ErrSignature otherwise. A recipient shows any error as "unverified",
// never as from the claimed sender.
func VerifyEnvelope(env *Envelope, conversation, senderDevice string, signingKey []byte) error {
	if len(env.Sig) == 0 {
		return ErrUnsigned
	}
	return Verify(signingKey, env.SignedBytes(conversation, senderDevice), env.Sig)
}

// BindingBytes is the statement a device signs with its signing key when it
// registers that key with accounts: the key belongs to this user's device
// whose X25519 key is x25519Public.
//
//	"agentchat/e2ee/v1/device-binding"              32 bytes ASCII
//	uint32 len || user
//	uint32 len || x25519Public                       (32 bytes)
//
// It proves that whoever registered the signing key holds its private half
// and meant it for this user and this encryption key: nobody can register
// another device's signing key as their own.
func BindingBytes(user string, x25519Public []byte) []byte {
	b := make([]byte, 0, len(bindingLabel)+8+len(user)+len(x25519Public))
	b = append(b, bindingLabel...)
	b = appendField(b, []byte(user))
	return appendField(b, x25519Public)
}

// SignBinding is the device's binding signature (BindingBytes).
func SignBinding(key *SigningKey, user string, x25519Public []byte) []byte {
	return key.Sign(BindingBytes(user, x25519Public))
}

// VerifyBinding is accounts' check at registration: the signing key passes
// ValidateSigningKey and sig is its signature of BindingBytes(user,
// x25519Public).
func VerifyBinding(signingKey []byte, user string, x25519Public, sig []byte) error {
	if err := Verify(signingKey, BindingBytes(user, x25519Public), sig); err != nil {
		return fmt.Errorf("device binding: %w", err)
	}
	return nil
}

// DeriveSigningKey is an agent's signing key, derived from its X25519
// private key: seed = HKDF-SHA256(secret = the 32 private key bytes,
// salt = empty, info = "agentchat/e2ee/v1/agent-signing-key"). Agent
// runtimes hold one secret per agent (AGENT_KEYS) and keep it that way:
// the signing key lives and dies with the key it is derived from (both
// sit in the same Secret anyway), and whoever registers the agent derives
// the same public key to publish. People's devices generate their two keys
// independently (GenerateSigningKey).
func DeriveSigningKey(k *PrivateKey) *SigningKey {
	seed, err := hkdf.Key(sha256.New, k.Bytes(), nil, agentSigningInfo, SigningSeedSize)
	if err != nil {
		panic("e2ee: HKDF-SHA256 refused 32 bytes: " + err.Error()) // cannot happen: the length is fixed and small
	}
	sk, _ := ParseSigningKey(seed)
	return sk
}
