package e2ee

import (
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
)

// Sender keys (docs/e2ee.md, "Sender keys"): in a group, each sending
// device has, per conversation, a sender key — an epoch id and a chain key.
// It goes to every member device once, inside a pairwise (v1) envelope as
// Content.SenderKey, and each message is then sealed once (a v2 envelope)
// with the next message key of the chain:
//
//	messageKey_i = HKDF-SHA256(secret = chainKey_i, salt = empty, info = "agentchat/e2ee/v2/message-key")
//	chainKey_i+1 = HKDF-SHA256(secret = chainKey_i, salt = empty, info = "agentchat/e2ee/v2/chain-key")
//
// Both sides step the chain forward and forget what is behind them, so a
// device's state taken today does not open what it sent or read before
// (forward secrecy along the chain). The sender signs every v2 envelope
// with its device's signing key (SignEnvelope), which is what proves who
// sent it: every member holds the chain key and could seal.
const (
	messageKeyInfo = "agentchat/e2ee/v2/message-key"
	chainKeyInfo   = "agentchat/e2ee/v2/chain-key"
)

// Bounds of a receiver's chain state.
const (
	// MaxSkip is how far ahead of the next expected index a message may
	// be: opening it derives and keeps every key in between. Further is
	// refused (ErrSkip) — a forged index cannot make a receiver derive
	// millions of keys.
	MaxSkip = 2000
	// MaxSkipped is how many skipped message keys a receiver keeps per
	// sender key for messages that arrive out of order; the oldest go first.
	MaxSkipped = 2000
)

var (
	// ErrKeyUsed means the message key of an envelope's index is no longer
	// held: that message was opened already (each key opens once), or it
	// was skipped so long ago that its key was dropped (MaxSkipped).
	ErrKeyUsed = errors.New("e2ee: message key already used or dropped")
	// ErrSkip means an envelope's index is more than MaxSkip ahead of the
	// chain.
	ErrSkip = errors.New("e2ee: message index too far ahead")
	// ErrEpoch means an envelope is of another sender key (epoch) than the
	// one it is opened with.
	ErrEpoch = errors.New("e2ee: other sender key epoch")
)

// chainStep is one step of the chain: the message key at this position
// and the chain key of the next.
func chainStep(chainKey []byte) (messageKey, next []byte) {
	mk, err := hkdf.Key(sha256.New, chainKey, nil, messageKeyInfo, 32)
	if err != nil {
		panic("e2ee: hkdf: " + err.Error()) // 32-byte secrets only
	}
	next, err = hkdf.Key(sha256.New, chainKey, nil, chainKeyInfo, 32)
	if err != nil {
		panic("e2ee: hkdf: " + err.Error())
	}
	return mk, next
}

// SenderKeyDistribution is what a sender device tells every member device
// of a group about its current sender key, inside a v1 envelope
// (Content.SenderKey): from Index on, the chain starts at ChainKey. It is
// sealed and signed like any message, so it is as authentic as its v1
// envelope is verified.
type SenderKeyDistribution struct {
	Epoch    uint32 `json:"epoch"`
	Index    uint32 `json:"index,omitempty"`
	ChainKey []byte `json:"chainKey"` // 32 bytes
}

func (d *SenderKeyDistribution) check() error {
	if d.Epoch == 0 || len(d.ChainKey) != 32 {
		return fmt.Errorf("e2ee: content: sender key needs an epoch and a 32-byte chain key")
	}
	return nil
}

// SenderKey is a sending device's own state for one conversation: the
// epoch, the index of the next message and the chain key at it. Seal
// moves it on. Fields are exported for the device's own state store only.
type SenderKey struct {
	Epoch uint32 `json:"epoch"`
	Index uint32 `json:"index"`
	Chain []byte `json:"chain"`
}

// NewSenderKey draws a fresh sender key: a random non-zero epoch id (4
// bytes: a device starting afresh after losing its state cannot collide
// with its old epochs except by a 2^-32 chance) and a random chain key.
func NewSenderKey() (*SenderKey, error) { return newSenderKey(rand.Reader) }

func newSenderKey(r io.Reader) (*SenderKey, error) {
	b := make([]byte, 4+32)
	for {
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, fmt.Errorf("e2ee: sender key: random: %w", err)
		}
		if e := binary.BigEndian.Uint32(b); e != 0 {
			return &SenderKey{Epoch: e, Chain: slices.Clone(b[4:])}, nil
		}
	}
}

// Distribution is what to send the members for this sender key as it
// stands: the next message will be the first they can open.
func (s *SenderKey) Distribution() SenderKeyDistribution {
	return SenderKeyDistribution{Epoch: s.Epoch, Index: s.Index, ChainKey: slices.Clone(s.Chain)}
}

// SealGroup seals content once with the sender key's next message key (a
// v2 envelope), and wraps that key for each of agents (agent devices keep
// no chain state: they open v2 with their wrapped key as they open v1; nil
// for a group without agents). It moves sk on by one, forgetting the
// chain key it used. Sign the result with SignEnvelope, as for Seal.
func SealGroup(sk *SenderKey, content []byte, ad AssociatedData, agents []Recipient) (*Envelope, error) {
	return sealGroupWith(rand.Reader, sk, content, ad, agents)
}

// sealGroupWith reads its randomness from r in this order: content nonce
// (12), then per agent in order its ephemeral key (32) and wrap nonce (12).
func sealGroupWith(r io.Reader, sk *SenderKey, content []byte, ad AssociatedData, agents []Recipient) (*Envelope, error) {
	if len(content) > MaxContent {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrTooLarge, len(content), MaxContent)
	}
	if err := ad.check(); err != nil {
		return nil, err
	}
	if sk == nil || sk.Epoch == 0 || len(sk.Chain) != 32 {
		return nil, fmt.Errorf("%w: no sender key", ErrKey)
	}
	if sk.Index == ^uint32(0) {
		return nil, fmt.Errorf("%w: sender key chain used up: start a new epoch", ErrKey)
	}
	if len(agents) > 0 {
		if err := checkRecipients(agents); err != nil {
			return nil, err
		}
	}
	adb := ad.Bytes()
	nonce := make([]byte, nonceSize)
	if _, err := io.ReadFull(r, nonce); err != nil {
		return nil, fmt.Errorf("e2ee: seal: random: %w", err)
	}
	mk, next := chainStep(sk.Chain)
	defer clear(mk)
	ct, err := gcmSeal(mk, nonce, frame(commitment(mk), content), adb)
	if err != nil {
		return nil, err
	}
	env := &Envelope{V: Version2, Epoch: sk.Epoch, Index: sk.Index, Nonce: nonce, Ciphertext: ct}
	for _, rc := range agents {
		k, err := wrap(r, mk, adb, rc)
		if err != nil {
			return nil, fmt.Errorf("e2ee: seal: agent %q: %w", rc.Device, err)
		}
		env.Keys = append(env.Keys, k)
	}
	clear(sk.Chain)
	sk.Chain, sk.Index = next, sk.Index+1
	return env, nil
}

// ReceiverKey is a receiving device's state for one sender device's sender
// key in one conversation: the next index and the chain key at it, and
// the message keys of indexes skipped on the way (messages that arrive
// out of order). Fields are exported for the device's own state store only.
type ReceiverKey struct {
	Epoch   uint32            `json:"epoch"`
	Index   uint32            `json:"index"`
	Chain   []byte            `json:"chain"`
	Skipped map[uint32][]byte `json:"skipped,omitempty"`
}

// NewReceiverKey starts a receiver's state from a distribution.
func NewReceiverKey(d SenderKeyDistribution) (*ReceiverKey, error) {
	if err := d.check(); err != nil {
		return nil, err
	}
	return &ReceiverKey{Epoch: d.Epoch, Index: d.Index, Chain: slices.Clone(d.ChainKey)}, nil
}

// Open decrypts a v2 envelope of this sender key with the associated data
// it arrived with, and forgets the message key it used (a message opens
// once: keep what it said, not its key). The state changes only when the
// envelope authenticates, so a forged or corrupt one costs nothing.
//
// Errors: ErrShape/ErrVersion, ErrEpoch (another epoch), ErrKeyUsed,
// ErrSkip, ErrDecrypt, ErrPadding.
func (rk *ReceiverKey) Open(env *Envelope, ad AssociatedData) ([]byte, error) {
	if err := env.Validate(); err != nil {
		return nil, err
	}
	switch {
	case env.V != Version2:
		return nil, fmt.Errorf("%w: not a sender-key envelope", ErrVersion)
	case env.Epoch != rk.Epoch:
		return nil, ErrEpoch
	case env.Index < rk.Index:
		mk, ok := rk.Skipped[env.Index]
		if !ok {
			return nil, ErrKeyUsed
		}
		p, err := openWith(mk, env, ad)
		if err == nil {
			delete(rk.Skipped, env.Index)
			clear(mk)
		}
		return p, err
	case env.Index-rk.Index > MaxSkip:
		return nil, ErrSkip
	}
	// Step to the envelope's index on copies; commit only if it opens.
	chain := slices.Clone(rk.Chain)
	skipped := make(map[uint32][]byte, env.Index-rk.Index)
	for i := rk.Index; i < env.Index; i++ {
		var mk []byte
		mk, chain = chainStep(chain)
		skipped[i] = mk
	}
	mk, next := chainStep(chain)
	defer clear(mk)
	p, err := openWith(mk, env, ad)
	if err != nil {
		return nil, err
	}
	clear(rk.Chain)
	rk.Chain, rk.Index = next, env.Index+1
	if len(skipped) > 0 && rk.Skipped == nil {
		rk.Skipped = make(map[uint32][]byte, len(skipped))
	}
	for i, k := range skipped {
		rk.Skipped[i] = k
	}
	for len(rk.Skipped) > MaxSkipped { // drop the oldest
		oldest := ^uint32(0)
		for i := range rk.Skipped {
			oldest = min(oldest, i)
		}
		clear(rk.Skipped[oldest])
		delete(rk.Skipped, oldest)
	}
	return p, nil
}

func openWith(mk []byte, env *Envelope, ad AssociatedData) ([]byte, error) {
	p, err := gcmOpen(mk, env.Nonce, env.Ciphertext, ad.Bytes())
	if err != nil {
		return nil, fmt.Errorf("%w: content", ErrDecrypt)
	}
	return unframe(p, commitment(mk))
}

// distributionPrefix starts the client message id of every sender key
// distribution.
const distributionPrefix = "sk-"

// DistributionID is the client message id of the distribution of epoch:
// "sk-" and the epoch as 8 hex digits — one message per epoch, so a resend
// is the same message to persist. The prefix tells the server that a v1
// message is a distribution (it could guess as much from its shape), so
// that route invokes no agent for it (agents keep no chain state) and
// clients count it as no unread message.
func DistributionID(epoch uint32) string { return fmt.Sprintf("%s%08x", distributionPrefix, epoch) }

// IsDistributionID reports whether a client message id is a
// distribution's (DistributionID).
func IsDistributionID(id string) bool {
	return len(id) == len(distributionPrefix)+8 && id[:len(distributionPrefix)] == distributionPrefix
}

// SealOnce seals content once (v2) under a one-off sender key and wraps
// its message key for every recipient: what a sender that keeps no chain
// state — an agent's runtime — sends to a group. The connector hands each
// device the envelope with its own wrapped key only, so what a delivery
// costs does not grow with the group (docs/e2ee.md, "Sender keys").
func SealOnce(content []byte, ad AssociatedData, recipients []Recipient) (*Envelope, error) {
	if err := checkRecipients(recipients); err != nil {
		return nil, err
	}
	sk, err := NewSenderKey()
	if err != nil {
		return nil, err
	}
	return SealGroup(sk, content, ad, recipients)
}
