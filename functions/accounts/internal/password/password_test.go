package password

import (
	"context"
	"strings"
	"testing"
)

var fast = Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

func TestHashVerify(t *testing.T) {
	h, err := Hash("correct horse", fast)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("hash %q is not a PHC argon2id string", h)
	}
	h2, _ := Hash("correct horse", fast)
	if h == h2 {
		t.Fatal("two hashes of one password are equal: salt not random")
	}
	for _, tc := range []struct {
		pw   string
		want bool
	}{{"correct horse", true}, {"correct horsE", false}, {"", false}} {
		got, err := Verify(tc.pw, h)
		if err != nil || got != tc.want {
			t.Errorf("Verify(%q) = %v, %v; want %v", tc.pw, got, err, tc.want)
		}
	}
}

func TestVerifyMalformed(t *testing.T) {
	for _, enc := range []string{
		"", "plain", "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=99999999,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=64,t=1,p=1$!!$aGFzaGhhc2hoYXNoaGFzaA",
	} {
		if _, err := Verify("x", enc); err != ErrMalformed {
			t.Errorf("Verify(%q) err = %v, want ErrMalformed", enc, err)
		}
	}
}

// TestUnknownUserCostsTheSame checks that a check without a stored hash does
// the same work as a real one (a timing oracle would reveal usernames).
func TestUnknownUserCostsTheSame(t *testing.T) {
	h, err := NewHasher(Default, 1)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	enc, _ := h.Hash(ctx, "password1")
	// An unknown user is checked against a dummy hash with the same
	// parameters, so it costs one full argon2id run like a known user.
	// (Timing itself is measured by BenchmarkVerify, not asserted here:
	// timed assertions flake on a shared machine.)
	h.Verify(ctx, "wrong-password", enc)
	if ok, _ := h.Verify(ctx, "password1", ""); ok {
		t.Fatal("Verify with no stored hash succeeded")
	}
	if !strings.HasPrefix(h.dummy, enc[:strings.LastIndex(enc[:strings.LastIndex(enc, "$")], "$")]) {
		t.Errorf("dummy hash %q has other parameters than %q", h.dummy, enc)
	}
}

// BenchmarkVerify compares a known user's check with an unknown user's
// (against the dummy hash): the two should cost the same.
func BenchmarkVerify(b *testing.B) {
	h, err := NewHasher(Default, 1)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	enc, _ := h.Hash(ctx, "password1")
	b.Run("known", func(b *testing.B) {
		for b.Loop() {
			h.Verify(ctx, "wrong-password", enc)
		}
	})
	b.Run("unknown", func(b *testing.B) {
		for b.Loop() {
			h.Verify(ctx, "wrong-password", "")
		}
	})
}
