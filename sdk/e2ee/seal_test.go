package e2ee

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestSealOpenRoundtrip(t *testing.T) {
	for _, n := range []int{1, 2, 3, 10, 50, 200} {
		ds := newDevices(t, n)
		content := []byte(strings.Repeat("héllo ", n))
		env, err := Seal(content, testAD, recipients(ds))
		if err != nil {
			t.Fatalf("%d recipients: Seal: %v", n, err)
		}
		if err := env.Validate(); err != nil {
			t.Fatalf("%d recipients: Validate: %v", n, err)
		}
		if got, want := len(env.Keys), n; got != want {
			t.Fatalf("keys = %d, want %d", got, want)
		}
		for _, d := range ds {
			got, err := Open(env, testAD, d.id, d.priv)
			if err != nil {
				t.Fatalf("%d recipients: Open as %s: %v", n, d.id, err)
			}
			if !bytes.Equal(got, content) {
				t.Fatalf("%d recipients: Open as %s = %q, want %q", n, d.id, got, content)
			}
		}
	}
}

func TestSealHidesLengthInBuckets(t *testing.T) {
	ds := newDevices(t, 1)
	tests := []struct {
		content int
		wantCT  int
	}{
		{0, 256 + 16},
		{1, 256 + 16},
		{256 - CommitSize - 1, 256 + 16}, // exactly one block
		{256 - CommitSize, 512 + 16},
		{1000, 1280 + 16},
		{MaxContent, MaxCiphertext - 256 + 16},
	}
	for _, tt := range tests {
		content := bytes.Repeat([]byte{'x'}, tt.content)
		env, err := Seal(content, testAD, recipients(ds))
		if err != nil {
			t.Fatalf("%d bytes: %v", tt.content, err)
		}
		if got := len(env.Ciphertext); got != tt.wantCT {
			t.Errorf("%d bytes: ciphertext %d bytes, want %d", tt.content, got, tt.wantCT)
		}
		got, err := Open(env, testAD, ds[0].id, ds[0].priv)
		if err != nil || !bytes.Equal(got, content) {
			t.Errorf("%d bytes: Open: %v (equal %v)", tt.content, err, bytes.Equal(got, content))
		}
	}
}

func TestSealRefuses(t *testing.T) {
	ds := newDevices(t, 2)
	lowOrder := make([]byte, 32) // the point 0 has order 4
	lowPub, err := ParsePublicKey(lowOrder)
	if err == nil {
		t.Fatalf("ParsePublicKey(0) = %v, want an error", lowPub)
	}
	zeroRecipient := Recipient{Device: "dev-zero"}
	zeroRecipient.PublicKey, _ = ds[0].priv.k.Curve().NewPublicKey(lowOrder)

	tests := []struct {
		name    string
		content []byte
		ad      AssociatedData
		rs      []Recipient
		want    error
	}{
		{"too large", make([]byte, MaxContent+1), testAD, recipients(ds), ErrTooLarge},
		{"no conversation", nil, AssociatedData{SenderDevice: "d", ClientMessageID: "m"}, recipients(ds), ErrAssociatedData},
		{"no sender device", nil, AssociatedData{Conversation: "c", ClientMessageID: "m"}, recipients(ds), ErrAssociatedData},
		{"no client message id", nil, AssociatedData{Conversation: "c", SenderDevice: "d"}, recipients(ds), ErrAssociatedData},
		{"no recipients", nil, testAD, nil, ErrRecipients},
		{"too many recipients", nil, testAD, make([]Recipient, MaxRecipients+1), ErrRecipients},
		{"empty device", nil, testAD, []Recipient{{PublicKey: ds[0].priv.PublicKey()}}, ErrRecipients},
		{"long device", nil, testAD, []Recipient{{Device: strings.Repeat("d", MaxDeviceID+1), PublicKey: ds[0].priv.PublicKey()}}, ErrRecipients},
		{"device twice", nil, testAD, []Recipient{ds[0].recipient(), ds[0].recipient()}, ErrRecipients},
		{"no public key", nil, testAD, []Recipient{{Device: "d"}}, ErrRecipients},
		{"low-order public key", nil, testAD, []Recipient{ds[0].recipient(), zeroRecipient}, ErrRecipients},
	}
	for _, tt := range tests {
		env, err := Seal(tt.content, tt.ad, tt.rs)
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: Seal = %v, %v; want %v", tt.name, env, err, tt.want)
		}
	}
}

// TestOpenRefuses changes one thing at a time and expects the matching error.
func TestOpenRefuses(t *testing.T) {
	ds := newDevices(t, 3)
	stranger := newDevices(t, 1)[0]
	content := []byte(`{"text":"canary-7f3a"}`)

	tests := []struct {
		name   string
		change func(env *Envelope) // applied to a fresh copy
		ad     AssociatedData
		device string
		priv   *PrivateKey
		want   error
	}{
		{"not a recipient", nil, testAD, "dev-other", ds[0].priv, ErrNotRecipient},
		{"wrong private key", nil, testAD, ds[1].id, stranger.priv, ErrDecrypt},
		{"another device's key", nil, testAD, ds[1].id, ds[2].priv, ErrDecrypt},
		{"tampered ciphertext", func(e *Envelope) { e.Ciphertext[3] ^= 1 }, testAD, ds[0].id, ds[0].priv, ErrDecrypt},
		{"tampered tag", func(e *Envelope) { e.Ciphertext[len(e.Ciphertext)-1] ^= 0x80 }, testAD, ds[0].id, ds[0].priv, ErrDecrypt},
		{"truncated ciphertext", func(e *Envelope) { e.Ciphertext = e.Ciphertext[:len(e.Ciphertext)-16] }, testAD, ds[0].id, ds[0].priv, ErrDecrypt},
		{"tampered nonce", func(e *Envelope) { e.Nonce[0] ^= 1 }, testAD, ds[0].id, ds[0].priv, ErrDecrypt},
		{"tampered wrapped key", func(e *Envelope) { e.Keys[0].Wrapped[5] ^= 1 }, testAD, ds[0].id, ds[0].priv, ErrDecrypt},
		{"tampered wrap nonce", func(e *Envelope) { e.Keys[0].Nonce[11] ^= 1 }, testAD, ds[0].id, ds[0].priv, ErrDecrypt},
		{"tampered ephemeral key", func(e *Envelope) { e.Keys[0].Ephemeral[7] ^= 1 }, testAD, ds[0].id, ds[0].priv, ErrDecrypt},
		{"low-order ephemeral key", func(e *Envelope) { e.Keys[0].Ephemeral = make([]byte, 32) }, testAD, ds[0].id, ds[0].priv, ErrDecrypt},
		{"wrapped keys relabelled", func(e *Envelope) { e.Keys[0].Device, e.Keys[1].Device = e.Keys[1].Device, e.Keys[0].Device }, testAD, ds[0].id, ds[0].priv, ErrDecrypt},
		{"replayed into another conversation", nil, AssociatedData{"conv-2", testAD.SenderDevice, testAD.ClientMessageID}, ds[0].id, ds[0].priv, ErrDecrypt},
		{"replayed under another sender device", nil, AssociatedData{testAD.Conversation, "dev-mallory", testAD.ClientMessageID}, ds[0].id, ds[0].priv, ErrDecrypt},
		{"replayed as another message", nil, AssociatedData{testAD.Conversation, testAD.SenderDevice, "m-0002"}, ds[0].id, ds[0].priv, ErrDecrypt},
		{"fields shifted across the boundary", nil, AssociatedData{"conv-1d", "ev-alice-1", testAD.ClientMessageID}, ds[0].id, ds[0].priv, ErrDecrypt},
		{"newer version", func(e *Envelope) { e.V = 3 }, testAD, ds[0].id, ds[0].priv, ErrVersion},
		{"malformed", func(e *Envelope) { e.Nonce = nil }, testAD, ds[0].id, ds[0].priv, ErrShape},
		{"no private key", nil, testAD, ds[0].id, nil, ErrKey},
	}
	for _, tt := range tests {
		env, err := Seal(content, testAD, recipients(ds))
		if err != nil {
			t.Fatal(err)
		}
		if tt.change != nil {
			tt.change(env)
		}
		got, err := Open(env, tt.ad, tt.device, tt.priv)
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: Open = %q, %v; want %v", tt.name, got, err, tt.want)
		}
		if err != nil && strings.Contains(err.Error(), "canary") {
			t.Errorf("%s: error leaks content: %v", tt.name, err)
		}
	}
}

func TestOpenNilEnvelope(t *testing.T) {
	ds := newDevices(t, 1)
	if _, err := Open(nil, testAD, ds[0].id, ds[0].priv); !errors.Is(err, ErrShape) {
		t.Fatalf("Open(nil) = %v, want ErrShape", err)
	}
}

// TestSealFresh checks that two seals of the same content share nothing an
// observer could link: keys, nonces and ciphertexts all differ.
func TestSealFresh(t *testing.T) {
	ds := newDevices(t, 1)
	a, _ := Seal([]byte("same"), testAD, recipients(ds))
	b, _ := Seal([]byte("same"), testAD, recipients(ds))
	switch {
	case bytes.Equal(a.Nonce, b.Nonce), bytes.Equal(a.Ciphertext, b.Ciphertext),
		bytes.Equal(a.Keys[0].Ephemeral, b.Keys[0].Ephemeral), bytes.Equal(a.Keys[0].Wrapped, b.Keys[0].Wrapped):
		t.Fatal("two seals share random values")
	}
}

func TestKeysRoundtrip(t *testing.T) {
	k, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	k2, err := ParsePrivateKey(k.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(k2.PublicKeyBytes(), k.PublicKeyBytes()) {
		t.Fatal("parsed private key has another public key")
	}
	pub, err := ParsePublicKey(k.PublicKeyBytes())
	if err != nil || !pub.Equal(k.PublicKey()) {
		t.Fatalf("ParsePublicKey = %v, %v", pub, err)
	}
	for _, b := range [][]byte{nil, make([]byte, 31), make([]byte, 33)} {
		if _, err := ParsePublicKey(b); !errors.Is(err, ErrKey) {
			t.Errorf("ParsePublicKey(%d bytes) = %v, want ErrKey", len(b), err)
		}
		if _, err := ParsePrivateKey(b); !errors.Is(err, ErrKey) {
			t.Errorf("ParsePrivateKey(%d bytes) = %v, want ErrKey", len(b), err)
		}
	}
}

func TestPartialAD(t *testing.T) {
	got := PartialAD("conv-1", "dev-agent", 42, 3)
	want := AssociatedData{Conversation: "conv-1", SenderDevice: "dev-agent", ClientMessageID: "partial/42/3"}
	if got != want {
		t.Fatalf("PartialAD = %+v, want %+v", got, want)
	}
}
