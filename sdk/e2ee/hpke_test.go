package e2ee

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hpke"
	"encoding/binary"
	"errors"
	"testing"
)

// TestHPKEVectors checks Go's crypto/hpke, as HPKEOpen uses it, against
// RFC 9180 A.1.1: the derived key pairs, the receiving context's opens at
// every listed sequence number, and its exports. (The sending side draws
// its ephemeral key inside crypto/hpke, which offers no way to fix it; the
// Go project runs the same vectors derandomized in its own tests, and the
// browser's sender is checked byte for byte by primitives_check.js.)
func TestHPKEVectors(t *testing.T) {
	v := loadPrimitives(t).HPKE.Vectors[0]
	if v.Mode != 0 || v.KEMID != 0x20 || v.KDFID != 1 || v.AEADID != 1 {
		t.Fatalf("vector is for suite mode %d %#x/%#x/%#x, not ours", v.Mode, v.KEMID, v.KDFID, v.AEADID)
	}
	if hpkeKEM.ID() != 0x20 || hpkeKDF.ID() != 1 || hpkeAEAD.ID() != 1 {
		t.Fatal("the package's suite is not the vectors' suite")
	}
	for _, kp := range []struct {
		name        string
		ikm, sk, pk []byte
	}{{"recipient", v.IkmR, v.SkRm, v.PkRm}, {"ephemeral", v.IkmE, v.SkEm, v.PkEm}} {
		k, err := hpkeKEM.DeriveKeyPair(kp.ikm)
		if err != nil {
			t.Fatal(err)
		}
		// RFC 9180 7.1.2: SerializePrivateKey clamps an X25519 key (the
		// vectors list it unclamped); X25519 clamps anyway, so both are
		// the same key.
		sk, _ := k.Bytes()
		clamped := bytes.Clone(kp.sk)
		clamped[0] &= 248
		clamped[31] = clamped[31]&127 | 64
		if !bytes.Equal(sk, clamped) || !bytes.Equal(k.PublicKey().Bytes(), kp.pk) {
			t.Errorf("DeriveKeyPair(%s ikm) is not the vector's key pair", kp.name)
		}
	}
	if !bytes.Equal(v.PkEm, v.Enc) {
		t.Error("enc is not the ephemeral public key")
	}

	priv, err := ParsePrivateKey(v.SkRm)
	if err != nil {
		t.Fatal(err)
	}
	first := v.Encryptions[0]
	if pt, err := HPKEOpen(priv, v.Enc, v.Info, first.AAD, first.CT); err != nil || !bytes.Equal(pt, first.PT) {
		t.Fatalf("HPKEOpen of sequence 0: %q, %v", pt, err)
	}

	// One receiving context through every listed sequence number. The RFC
	// omits 3 and 5–254: they are sealed here with the vector's key (whose
	// correctness the opens around them show), so that the context reaches
	// 255 and 256, where the counter carries into the next nonce byte.
	sk, err := hpke.NewDHKEMPrivateKey(priv.k)
	if err != nil {
		t.Fatal(err)
	}
	r, err := hpke.NewRecipient(v.Enc, sk, hpkeKDF, hpkeAEAD, v.Info)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := aes.NewCipher(v.Key)
	gcm, _ := cipher.NewGCM(block)
	var next uint64
	for _, e := range v.Encryptions {
		if nonce := seqNonce(v.BaseNonce, e.Seq); !bytes.Equal(nonce, e.Nonce) {
			t.Errorf("seq %d: the vector's nonce is not base_nonce xor seq", e.Seq)
		}
		for ; next < e.Seq; next++ {
			if _, err := r.Open(nil, gcm.Seal(nil, seqNonce(v.BaseNonce, next), []byte("filler"), nil)); err != nil {
				t.Fatalf("seq %d (filler): %v", next, err)
			}
		}
		pt, err := r.Open(e.AAD, e.CT)
		if err != nil || !bytes.Equal(pt, e.PT) {
			t.Fatalf("seq %d: Open gave %x, %v", e.Seq, pt, err)
		}
		next++
	}
	for _, x := range v.Exports {
		got, err := r.Export(string(x.Context), x.L)
		if err != nil || !bytes.Equal(got, x.Value) {
			t.Errorf("export %x: %x, %v", x.Context, got, err)
		}
	}
}

func seqNonce(base []byte, seq uint64) []byte {
	n := bytes.Clone(base)
	var s [8]byte
	binary.BigEndian.PutUint64(s[:], seq)
	for i := range s {
		n[len(n)-8+i] ^= s[i]
	}
	return n
}

func TestHPKESealOpen(t *testing.T) {
	ds := newDevices(t, 2)
	bob, eve := ds[0].priv, ds[1].priv
	info, aad, msg := []byte("agentchat/test/hpke"), []byte("conv-1|dev-alice"), []byte("a sender key, say")
	enc, ct, err := HPKESeal(bob.PublicKeyBytes(), info, aad, msg)
	if err != nil {
		t.Fatal(err)
	}
	if len(enc) != HPKEEncSize || len(ct) != len(msg)+16 {
		t.Fatalf("enc %d bytes, ct %d bytes", len(enc), len(ct))
	}
	if got, err := HPKEOpen(bob, enc, info, aad, ct); err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("HPKEOpen: %q, %v", got, err)
	}
	enc2, _, _ := HPKESeal(bob.PublicKeyBytes(), info, aad, msg)
	if bytes.Equal(enc, enc2) {
		t.Error("two seals share an ephemeral key")
	}
	flip := func(b []byte, i int) []byte { c := bytes.Clone(b); c[i] ^= 1; return c }
	for _, c := range []struct {
		name               string
		priv               *PrivateKey
		enc, info, aad, ct []byte
	}{
		{"another device", eve, enc, info, aad, ct},
		{"another info", bob, enc, []byte("agentchat/test/other"), aad, ct},
		{"another aad", bob, enc, info, []byte("conv-2|dev-alice"), ct},
		{"changed enc", bob, flip(enc, 3), info, aad, ct},
		{"changed ciphertext", bob, enc, info, aad, flip(ct, 0)},
		{"changed tag", bob, enc, info, aad, flip(ct, len(ct)-1)},
		{"short enc", bob, enc[:31], info, aad, ct},
		{"low-order enc", bob, LowOrderKeys()[0], info, aad, ct},
	} {
		if _, err := HPKEOpen(c.priv, c.enc, c.info, c.aad, c.ct); !errors.Is(err, ErrDecrypt) {
			t.Errorf("%s: %v, want ErrDecrypt", c.name, err)
		}
	}
	for _, low := range LowOrderKeys() {
		if _, _, err := HPKESeal(low, info, aad, msg); !errors.Is(err, ErrLowOrderKey) {
			t.Errorf("HPKESeal for low-order key %x: %v", low, err)
		}
	}
	// What HPKESeal makes is plain RFC 9180: crypto/hpke's single-shot Open
	// (no aad) reads a single-shot seal with an empty aad.
	enc, ct, err = HPKESeal(bob.PublicKeyBytes(), info, nil, msg)
	if err != nil {
		t.Fatal(err)
	}
	sk, _ := hpke.NewDHKEMPrivateKey(bob.k)
	if got, err := hpke.Open(sk, hpkeKDF, hpkeAEAD, info, append(enc, ct...)); err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("crypto/hpke.Open: %q, %v", got, err)
	}
}
