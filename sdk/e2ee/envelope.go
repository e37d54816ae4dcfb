// Package e2ee is agentchat's end-to-end encryption envelope.
//
// A random message key encrypts the content once (AES-256-GCM); that key is
// wrapped for every recipient device with an ephemeral X25519 agreement,
// HKDF-SHA256 and AES-256-GCM. Associated data binds the conversation, the
// sender device and the client message id, so an envelope cannot be replayed
// into another conversation or under another sender. Only the standard
// library is used, so that the browser (WebCrypto) can follow the same steps
// with the test vectors in testdata/.
//
// The server side only ever sees an Envelope's shape (Validate); it has no
// key that could open one.
package e2ee

import (
	"errors"
	"fmt"
)

// Version is the pairwise envelope format (v1): the content sealed once
// with a random message key, wrapped for every recipient device.
const Version = 1

// Version2 is the sender-key envelope (docs/e2ee.md, "Sender keys"): the
// content sealed once with the next message key of the sender device's
// chain for the conversation; no key per person's device, only (Keys) the
// message key wrapped for each agent device, which keeps no chain state.
const Version2 = 2

// Limits on an envelope's shape, enforced by Validate on the server side.
const (
	MaxCiphertext = 64 << 10 // bytes of encrypted content
	// MaxRecipients bounds the wrapped keys of one envelope: what fits a
	// frame (protocol.MaxFrameSize, 512 KiB, at ~193 bytes a key). It is
	// not a group-size cap: a group message (v2) carries keys for agent
	// devices only; v1 envelopes with many keys are direct messages, sender
	// key distributions and agent replies (docs/e2ee.md).
	MaxRecipients = 2048
	MaxDeviceID   = 64 // bytes of a device id
)

// Envelope is what travels through agentchat instead of a message's content.
// []byte fields are standard base64 in JSON.
type Envelope struct {
	V int `json:"v"`
	// Epoch and Index (v2 only; omitted when 0) name the message key: the
	// sender device's sender key Epoch for the conversation, and the key's
	// position in its chain.
	Epoch      uint32       `json:"epoch,omitempty"`
	Index      uint32       `json:"index,omitempty"`
	Nonce      []byte       `json:"nonce"`          // 12 bytes, for Ciphertext
	Ciphertext []byte       `json:"ct"`             // content sealed with the message key
	Keys       []WrappedKey `json:"keys,omitempty"` // v1: the message key, once per recipient device; v2: once per agent device
	// Sig is the sending device's Ed25519 signature of SignedBytes
	// (SignEnvelope); absent from clients that do not sign yet, whose
	// messages recipients show as unverified.
	Sig []byte `json:"sig,omitempty"`
}

// WrappedKey is the message key sealed for one recipient device.
type WrappedKey struct {
	Device    string `json:"device"` // recipient device id
	Ephemeral []byte `json:"epk"`    // sender's ephemeral X25519 public key, 32 bytes
	Nonce     []byte `json:"nonce"`  // 12 bytes
	Wrapped   []byte `json:"wk"`     // 32-byte key + 16-byte tag
}

// ErrShape is wrapped by every error Validate returns.
var ErrShape = errors.New("e2ee: malformed envelope")

// Validate checks the envelope's shape without any key: version, sizes, one
// wrapped key per distinct device (v1: at least one; v2: any number, for
// agent devices), an epoch for v2. It is what persist runs on every message.
// An unknown version's error wraps both ErrShape and ErrVersion.
func (e *Envelope) Validate() error {
	switch {
	case e == nil:
		return fmt.Errorf("%w: missing", ErrShape)
	case e.V != Version && e.V != Version2:
		return fmt.Errorf("%w (%w): got %d, want %d or %d", ErrShape, ErrVersion, e.V, Version, Version2)
	case e.V == Version && (e.Epoch != 0 || e.Index != 0):
		return fmt.Errorf("%w: epoch and index are for v2", ErrShape)
	case e.V == Version2 && e.Epoch == 0:
		return fmt.Errorf("%w: v2 needs an epoch", ErrShape)
	case len(e.Nonce) != 12:
		return fmt.Errorf("%w: nonce must be 12 bytes", ErrShape)
	case len(e.Ciphertext) < 16:
		return fmt.Errorf("%w: ciphertext shorter than its tag", ErrShape)
	case len(e.Ciphertext) > MaxCiphertext:
		return fmt.Errorf("%w: ciphertext over %d bytes", ErrShape, MaxCiphertext)
	case len(e.Keys) == 0 && e.V == Version:
		return fmt.Errorf("%w: no recipient keys", ErrShape)
	case len(e.Keys) > MaxRecipients:
		return fmt.Errorf("%w: over %d recipient keys", ErrShape, MaxRecipients)
	case e.Sig != nil && len(e.Sig) != SignatureSize:
		return fmt.Errorf("%w: sig must be %d bytes", ErrShape, SignatureSize)
	}
	seen := make(map[string]bool, len(e.Keys))
	for i, k := range e.Keys {
		switch {
		case k.Device == "" || len(k.Device) > MaxDeviceID:
			return fmt.Errorf("%w: keys[%d]: bad device id", ErrShape, i)
		case seen[k.Device]:
			return fmt.Errorf("%w: keys[%d]: device %q twice", ErrShape, i, k.Device)
		case len(k.Ephemeral) != 32:
			return fmt.Errorf("%w: keys[%d]: ephemeral key must be 32 bytes", ErrShape, i)
		case len(k.Nonce) != 12:
			return fmt.Errorf("%w: keys[%d]: nonce must be 12 bytes", ErrShape, i)
		case len(k.Wrapped) != 48:
			return fmt.Errorf("%w: keys[%d]: wrapped key must be 48 bytes", ErrShape, i)
		}
		seen[k.Device] = true
	}
	return nil
}

// Devices lists the recipient device ids in the order of Keys.
func (e *Envelope) Devices() []string {
	if e == nil { // no envelope: a membership entry (protocol.MemberChange), sealed for nobody
		return nil
	}
	ids := make([]string, len(e.Keys))
	for i, k := range e.Keys {
		ids[i] = k.Device
	}
	return ids
}
