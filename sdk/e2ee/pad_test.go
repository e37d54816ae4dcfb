package e2ee

import (
	"bytes"
	"errors"
	"testing"
)

func errorsIs(err, target error) bool { return errors.Is(err, target) }

func TestFrame(t *testing.T) {
	commit := bytes.Repeat([]byte{0xcc}, CommitSize)
	for _, n := range []int{0, 1, 222, 223, 224, 479, 480, 1000, MaxContent} {
		content := bytes.Repeat([]byte{0x80}, n) // the marker byte inside content must not confuse unframe
		p := frame(commit, content)
		if len(p)%PadBlock != 0 || len(p) < CommitSize+n+1 || len(p) >= CommitSize+n+1+PadBlock {
			t.Errorf("%d bytes: framed to %d", n, len(p))
		}
		got, err := unframe(p, commit)
		if err != nil || !bytes.Equal(got, content) {
			t.Errorf("%d bytes: unframe = %d bytes, %v", n, len(got), err)
		}
	}
}

func TestUnframeRefuses(t *testing.T) {
	commit := bytes.Repeat([]byte{0xcc}, CommitSize)
	good := frame(commit, []byte("hi"))
	tests := []struct {
		name string
		p    []byte
		want error
	}{
		{"other commitment", frame(bytes.Repeat([]byte{0xdd}, CommitSize), []byte("hi")), ErrDecrypt},
		{"shorter than commitment", commit[:10], ErrDecrypt},
		{"not a block multiple", good[:PadBlock-1], ErrPadding},
		{"no marker", append(bytes.Clone(commit), make([]byte, PadBlock-CommitSize)...), ErrPadding},
		{"marker not 0x80", func() []byte { p := bytes.Clone(good); p[CommitSize+2] = 0x01; return p }(), ErrPadding},
		{"a whole block of extra padding", append(bytes.Clone(good), make([]byte, PadBlock)...), ErrPadding},
		{"commitment only", bytes.Clone(commit), ErrPadding},
	}
	for _, tt := range tests {
		if _, err := unframe(tt.p, commit); !errors.Is(err, tt.want) {
			t.Errorf("%s: unframe = %v, want %v", tt.name, err, tt.want)
		}
	}
}

func TestMaxContent(t *testing.T) {
	p := frame(make([]byte, CommitSize), make([]byte, MaxContent))
	if got := len(p) + tagSize; got > MaxCiphertext {
		t.Fatalf("largest content seals to %d bytes, over MaxCiphertext %d", got, MaxCiphertext)
	}
	if got, want := MaxContent, 65247; got != want {
		t.Fatalf("MaxContent = %d, want %d", got, want)
	}
}

// TestAuthenticPaddingErrors: a sender whose plaintext authenticates but is
// badly framed gets ErrPadding at Open, not ErrDecrypt.
func TestAuthenticPaddingErrors(t *testing.T) {
	ds := newDevices(t, 1)
	env, err := Seal([]byte("x"), testAD, recipients(ds))
	if err != nil {
		t.Fatal(err)
	}
	// Re-seal the content with a broken frame under the same message key.
	mk, err := unwrap(&env.Keys[0], testAD.Bytes(), ds[0].priv)
	if err != nil {
		t.Fatal(err)
	}
	bad := append(commitment(mk), make([]byte, PadBlock-CommitSize)...) // no 0x80 marker
	env.Ciphertext, _ = gcmSeal(mk, env.Nonce, bad, testAD.Bytes())
	if _, err := Open(env, testAD, ds[0].id, ds[0].priv); !errors.Is(err, ErrPadding) {
		t.Fatalf("Open = %v, want ErrPadding", err)
	}
}
