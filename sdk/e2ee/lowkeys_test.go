package e2ee

import (
	"crypto/ecdh"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math/big"
	"os"
	"slices"
	"testing"
)

const lowOrderKeysPath = "testdata/low_order_keys.json"

// le is n as 32 little-endian bytes.
func le(n *big.Int) []byte {
	b := n.FillBytes(make([]byte, 32))
	slices.Reverse(b)
	return b
}

// TestLowOrderKeysArePublishedOnes rebuilds the published lists from their
// definitions (Bernstein's twelve integers; libsodium's seven with bit 255
// set) and expects LowOrderKeys to be exactly them.
func TestLowOrderKeysArePublishedOnes(t *testing.T) {
	p := fieldP
	o8a, o8b := lowOrderU[2], lowOrderU[3]
	add := func(a *big.Int, b int64) *big.Int { return new(big.Int).Add(a, big.NewInt(b)) }
	p2 := new(big.Int).Lsh(p, 1)
	bernstein := []*big.Int{big.NewInt(0), big.NewInt(1), o8a, o8b, add(p, -1), p, add(p, 1),
		new(big.Int).Add(p, o8a), new(big.Int).Add(p, o8b), add(p2, -1), p2, add(p2, 1)}
	var want []string
	for _, n := range bernstein {
		want = append(want, hex.EncodeToString(le(n)))
	}
	for _, n := range bernstein[:7] {
		b := le(n)
		b[31] |= 0x80
		want = append(want, hex.EncodeToString(b))
	}
	if !slices.Equal(lowOrderKeys, want) {
		t.Fatalf("lowOrderKeys =\n%q\nwant\n%q", lowOrderKeys, want)
	}
	if n := len(slices.Compact(slices.Sorted(slices.Values(want)))); n != len(want) {
		t.Fatalf("%d distinct encodings of %d", n, len(want))
	}
}

// TestValidatePublicKeyRefusesLowOrder: every published encoding is refused
// as low-order, by ValidatePublicKey, ParsePublicKey and Seal; and each one
// that crypto/ecdh can use (it reads keys as RFC 7748 does) really gives the
// all-zero secret, which crypto/ecdh reports as an error.
func TestValidatePublicKeyRefusesLowOrder(t *testing.T) {
	ds := newDevices(t, 1)
	for _, b := range LowOrderKeys() {
		h := hex.EncodeToString(b)
		if err := ValidatePublicKey(b); !errors.Is(err, ErrLowOrderKey) || !errors.Is(err, ErrKey) {
			t.Errorf("ValidatePublicKey(%s) = %v, want ErrLowOrderKey", h, err)
		}
		if _, err := ParsePublicKey(b); !errors.Is(err, ErrLowOrderKey) {
			t.Errorf("ParsePublicKey(%s) = %v, want ErrLowOrderKey", h, err)
		}
		pub, err := ecdh.X25519().NewPublicKey(b)
		if err != nil {
			t.Fatalf("crypto/ecdh refuses %s: %v", h, err)
		}
		rs := []Recipient{ds[0].recipient(), {Device: "dev-low", PublicKey: pub}}
		if env, err := Seal([]byte("canary"), testAD, rs); !errors.Is(err, ErrRecipients) || !errors.Is(err, ErrLowOrderKey) {
			t.Errorf("Seal for %s = %v, %v; want ErrRecipients and ErrLowOrderKey", h, env, err)
		}
		masked := slices.Clone(b)
		masked[31] &= 0x7f
		slices.Reverse(masked)
		if isLowOrder(new(big.Int).Mod(new(big.Int).SetBytes(masked), fieldP)) {
			if _, err := ds[0].priv.k.ECDH(pub); err == nil {
				t.Errorf("crypto/ecdh agrees a non-zero secret with %s, listed as low-order", h)
			}
		}
	}
}

// TestValidatePublicKeyRefusesNonCanonical: encodings of u >= p and with
// bit 255 set that are not low-order are refused as non-canonical; fresh
// keys pass.
func TestValidatePublicKeyRefusesNonCanonical(t *testing.T) {
	for i := int64(2); i <= 18; i++ { // p+2 .. p+18 = 2^255-1
		b := le(new(big.Int).Add(fieldP, big.NewInt(i)))
		if err := ValidatePublicKey(b); !errors.Is(err, ErrNonCanonicalKey) {
			t.Errorf("ValidatePublicKey(p+%d) = %v, want ErrNonCanonicalKey", i, err)
		}
	}
	for _, d := range newDevices(t, 50) {
		b := d.priv.PublicKeyBytes()
		if err := ValidatePublicKey(b); err != nil {
			t.Fatalf("ValidatePublicKey(fresh key %x) = %v", b, err)
		}
		b[31] |= 0x80
		if err := ValidatePublicKey(b); !errors.Is(err, ErrNonCanonicalKey) {
			t.Errorf("ValidatePublicKey(fresh key with bit 255) = %v, want ErrNonCanonicalKey", err)
		}
	}
	for _, n := range []int{0, 31, 33} {
		if err := ValidatePublicKey(make([]byte, n)); !errors.Is(err, ErrKey) || errors.Is(err, ErrLowOrderKey) {
			t.Errorf("ValidatePublicKey(%d bytes) = %v, want ErrKey", n, err)
		}
	}
}

// TestLowOrderKeysFile keeps testdata/low_order_keys.json, which the
// WebCrypto check feeds to the web client's sealer, equal to LowOrderKeys
// (rewritten with -update).
func TestLowOrderKeysFile(t *testing.T) {
	want, err := json.MarshalIndent(map[string][]string{"lowOrderKeys": lowOrderKeys}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	want = append(want, '\n')
	if *update {
		if err := os.WriteFile(lowOrderKeysPath, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(lowOrderKeysPath)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Fatalf("%s differs from LowOrderKeys; regenerate with go test ./e2ee -run TestLowOrderKeysFile -update (in sdk/)", lowOrderKeysPath)
	}
}
