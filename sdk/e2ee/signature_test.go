package e2ee

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"testing"
)

// signedVectors is primitives.json's "signed" section: our own statements
// (envelope signature, device binding) made by this package with fixed
// keys. Ed25519 is deterministic, so the bytes are reproducible, and
// web/ed25519.js must produce the same (primitives_check.js).
type signedVectors struct {
	Source   string `json:"source"`
	Envelope struct {
		Seed         hexBytes  `json:"seed"`
		PublicKey    hexBytes  `json:"publicKey"`
		Conversation string    `json:"conversation"`
		SenderDevice string    `json:"senderDevice"`
		Envelope     *Envelope `json:"envelope"` // unsigned, as Seal made it
		SignedBytes  hexBytes  `json:"signedBytes"`
		Sig          hexBytes  `json:"sig"`
	} `json:"envelope"`
	Binding struct {
		Seed         hexBytes `json:"seed"`
		PublicKey    hexBytes `json:"publicKey"`
		User         string   `json:"user"`
		X25519Public hexBytes `json:"x25519Public"`
		Bytes        hexBytes `json:"bytes"`
		Sig          hexBytes `json:"sig"`
	} `json:"binding"`
}

func loadSigned(t *testing.T) *signedVectors {
	t.Helper()
	b, err := os.ReadFile(primitivesPath)
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Signed *signedVectors `json:"signed"`
	}
	if err := json.Unmarshal(b, &f); err != nil || f.Signed == nil {
		t.Fatalf("%s: no signed section (%v)", primitivesPath, err)
	}
	return f.Signed
}

// TestSignedVectors: the envelope's signed bytes and signature and the
// device binding, byte for byte as recorded (the browser checks the same).
func TestSignedVectors(t *testing.T) {
	v := loadSigned(t)
	e := v.Envelope
	k, err := ParseSigningKey(e.Seed)
	if err != nil {
		t.Fatal(err)
	}
	if got := e.Envelope.SignedBytes(e.Conversation, e.SenderDevice); !bytes.Equal(got, e.SignedBytes) {
		t.Errorf("SignedBytes = %x\nwant %x", got, e.SignedBytes)
	}
	env := *e.Envelope
	SignEnvelope(&env, e.Conversation, e.SenderDevice, k)
	if !bytes.Equal(env.Sig, e.Sig) || !bytes.Equal(k.PublicKeyBytes(), e.PublicKey) {
		t.Errorf("sig = %x, want %x", env.Sig, e.Sig)
	}
	if err := VerifyEnvelope(&env, e.Conversation, e.SenderDevice, e.PublicKey); err != nil {
		t.Errorf("VerifyEnvelope: %v", err)
	}

	b := v.Binding
	bk, err := ParseSigningKey(b.Seed)
	if err != nil {
		t.Fatal(err)
	}
	if got := BindingBytes(b.User, b.X25519Public); !bytes.Equal(got, b.Bytes) {
		t.Errorf("BindingBytes = %x\nwant %x", got, b.Bytes)
	}
	if sig := SignBinding(bk, b.User, b.X25519Public); !bytes.Equal(sig, b.Sig) {
		t.Errorf("binding sig = %x, want %x", sig, b.Sig)
	}
	if err := VerifyBinding(b.PublicKey, b.User, b.X25519Public, b.Sig); err != nil {
		t.Errorf("VerifyBinding: %v", err)
	}
}

// TestVerifyEnvelope: a genuine signature verifies; every way of forging or
// moving one does not, and each error is one a client can tell apart from
// success (all shown as unverified).
func TestVerifyEnvelope(t *testing.T) {
	ds := newDevices(t, 3)
	alice, mallory := mustSigningKey(t), mustSigningKey(t)
	env, err := Seal([]byte("hello"), testAD, recipients(ds))
	if err != nil {
		t.Fatal(err)
	}
	SignEnvelope(env, testAD.Conversation, testAD.SenderDevice, alice)
	if err := env.Validate(); err != nil {
		t.Fatalf("a signed envelope is malformed: %v", err)
	}
	if err := VerifyEnvelope(env, testAD.Conversation, testAD.SenderDevice, alice.PublicKeyBytes()); err != nil {
		t.Fatalf("genuine: %v", err)
	}
	// It survives JSON (the wire) unchanged.
	b, _ := json.Marshal(env)
	var back Envelope
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if err := VerifyEnvelope(&back, testAD.Conversation, testAD.SenderDevice, alice.PublicKeyBytes()); err != nil {
		t.Fatalf("after JSON: %v", err)
	}

	forged := func(f func(e *Envelope)) *Envelope {
		c := *env
		c.Nonce, c.Ciphertext, c.Sig = bytes.Clone(env.Nonce), bytes.Clone(env.Ciphertext), bytes.Clone(env.Sig)
		c.Keys = append([]WrappedKey(nil), env.Keys...)
		f(&c)
		return &c
	}
	cases := []struct {
		name               string
		env                *Envelope
		conversation, from string
		key                []byte
		want               error
	}{
		{"unsigned", forged(func(e *Envelope) { e.Sig = nil }), testAD.Conversation, testAD.SenderDevice, alice.PublicKeyBytes(), ErrUnsigned},
		{"signed by another key", forged(func(e *Envelope) { SignEnvelope(e, testAD.Conversation, testAD.SenderDevice, mallory) }), testAD.Conversation, testAD.SenderDevice, alice.PublicKeyBytes(), ErrSignature},
		{"another conversation", env, "conv-2", testAD.SenderDevice, alice.PublicKeyBytes(), ErrSignature},
		{"another sender device", env, testAD.Conversation, "dev-mallory", alice.PublicKeyBytes(), ErrSignature},
		{"ciphertext changed", forged(func(e *Envelope) { e.Ciphertext[0] ^= 1 }), testAD.Conversation, testAD.SenderDevice, alice.PublicKeyBytes(), ErrSignature},
		{"nonce changed", forged(func(e *Envelope) { e.Nonce[0] ^= 1 }), testAD.Conversation, testAD.SenderDevice, alice.PublicKeyBytes(), ErrSignature},
		{"a recipient dropped", forged(func(e *Envelope) { e.Keys = e.Keys[1:] }), testAD.Conversation, testAD.SenderDevice, alice.PublicKeyBytes(), ErrSignature},
		{"a recipient renamed", forged(func(e *Envelope) { e.Keys[0].Device = "dev-eve" }), testAD.Conversation, testAD.SenderDevice, alice.PublicKeyBytes(), ErrSignature},
		{"version changed", forged(func(e *Envelope) { e.V = 2 }), testAD.Conversation, testAD.SenderDevice, alice.PublicKeyBytes(), ErrSignature},
		{"no key in the directory", env, testAD.Conversation, testAD.SenderDevice, nil, ErrKey},
		{"identity key in the directory", forged(func(e *Envelope) { e.Sig = append(identityPoint(), make([]byte, 32)...) }), testAD.Conversation, testAD.SenderDevice, identityPoint(), ErrLowOrderKey},
	}
	for _, c := range cases {
		if err := VerifyEnvelope(c.env, c.conversation, c.from, c.key); !errors.Is(err, c.want) {
			t.Errorf("%s: VerifyEnvelope = %v, want %v", c.name, err, c.want)
		}
	}
	// Swapping a recipient's wrapped key is not signed, and changes nothing
	// the recipient reads: it fails to open.
	swapped := forged(func(e *Envelope) { e.Keys[0].Wrapped = bytes.Clone(e.Keys[1].Wrapped) })
	if err := VerifyEnvelope(swapped, testAD.Conversation, testAD.SenderDevice, alice.PublicKeyBytes()); err != nil {
		t.Errorf("wrapped key swapped: %v", err)
	}
	if _, err := Open(swapped, testAD, ds[0].id, ds[0].priv); !errors.Is(err, ErrDecrypt) {
		t.Errorf("wrapped key swapped: Open = %v, want ErrDecrypt", err)
	}
	if err := forged(func(e *Envelope) { e.Sig = e.Sig[:63] }).Validate(); !errors.Is(err, ErrShape) {
		t.Errorf("a 63-byte sig: Validate = %v, want ErrShape", err)
	}
}

// TestBinding: the binding verifies for the user and X25519 key signed, for
// no other, and not under another signing key.
func TestBinding(t *testing.T) {
	k, other := mustSigningKey(t), mustSigningKey(t)
	x := newDevices(t, 2)
	pub := x[0].priv.PublicKeyBytes()
	sig := SignBinding(k, "u-alice", pub)
	if err := VerifyBinding(k.PublicKeyBytes(), "u-alice", pub, sig); err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"another user":      VerifyBinding(k.PublicKeyBytes(), "u-mallory", pub, sig),
		"another X25519":    VerifyBinding(k.PublicKeyBytes(), "u-alice", x[1].priv.PublicKeyBytes(), sig),
		"another key":       VerifyBinding(other.PublicKeyBytes(), "u-alice", pub, sig),
		"an envelope's sig": VerifyBinding(k.PublicKeyBytes(), "u-alice", pub, k.Sign(BindingBytes("u-alice", pub)[1:])),
	} {
		if !errors.Is(err, ErrSignature) {
			t.Errorf("%s: VerifyBinding = %v, want ErrSignature", name, err)
		}
	}
	// Label and fields are length-prefixed: a user id cannot absorb the key.
	if bytes.Equal(BindingBytes("u-a", []byte("bc")), BindingBytes("u-ab", []byte("c"))) {
		t.Error("binding fields run together")
	}
}

func mustSigningKey(t *testing.T) *SigningKey {
	t.Helper()
	k, err := GenerateSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// identityPoint is edwards25519's identity (y = 1), the small-order key
// under which R = identity, S = 0 verifies for any message.
func identityPoint() []byte { b := make([]byte, 32); b[0] = 1; return b }

// TestDeriveSigningKey: an agent's signing key is a function of its X25519
// key (the runtime and whoever registers it derive the same), and of
// nothing else: two agents' keys differ.
func TestDeriveSigningKey(t *testing.T) {
	ds := newDevices(t, 2)
	a, again, b := DeriveSigningKey(ds[0].priv), DeriveSigningKey(ds[0].priv), DeriveSigningKey(ds[1].priv)
	if !bytes.Equal(a.PublicKeyBytes(), again.PublicKeyBytes()) || bytes.Equal(a.PublicKeyBytes(), b.PublicKeyBytes()) {
		t.Fatal("derived signing keys are not one per X25519 key")
	}
	if err := ValidateSigningKey(a.PublicKeyBytes()); err != nil {
		t.Fatal(err)
	}
	// Pinned, so that a change of derivation cannot go unnoticed (every
	// agent's published key would stop matching its runtime's).
	k, err := ParsePrivateKey(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(DeriveSigningKey(k).PublicKeyBytes()); got != pinnedAgentSigningKey {
		t.Errorf("derived public key %s, want %s", got, pinnedAgentSigningKey)
	}
}

const pinnedAgentSigningKey = "d7fbb39596e596710e46e110706960fe7fd4952ef305eb98c706d6cca867e5c2"
