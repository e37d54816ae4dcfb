package e2ee

import (
	"bytes"
	"crypto/aes"
	"encoding/binary"
	"errors"
	"testing"
)

// TestKeyCommitmentStopsMultiKeyCiphertext plays a malicious sender who
// wants two recipients of one message to read different things: it builds a
// single AES-GCM ciphertext that authenticates under two message keys (the
// "invisible salamanders" attack; AES-GCM does not commit to its key) and
// wraps key 1 for Alice and key 2 for Bob. Plain AES-GCM accepts the
// ciphertext under both keys; Open accepts it for Alice only, because Bob's
// plaintext does not start with the commitment to Bob's key.
func TestKeyCommitmentStopsMultiKeyCiphertext(t *testing.T) {
	ds := newDevices(t, 2)
	alice, bob := ds[0], ds[1]
	k1 := bytes.Repeat([]byte{0x11}, 32)
	k2 := bytes.Repeat([]byte{0x22}, 32)
	adb := testAD.Bytes()

	// Alice's plaintext: one full block of frame, content up to the 0x80
	// marker in the last byte, with one free block (plaintext block 3) that
	// the attack fills. A nonce under which both keystreams agree on the
	// last byte makes Bob's plaintext end in 0x80 too: his padding is
	// valid, so only the commitment can refuse it.
	content := []byte("attack at dawn!!" + string(bytes.Repeat([]byte{'.'}, PadBlock-CommitSize-1-16)))
	p1 := frame(commitment(k1), content)
	var nonce, ks1, ks2 []byte
	for i := uint32(0); ; i++ {
		nonce = binary.BigEndian.AppendUint32(bytes.Repeat([]byte{0x33}, 8), i)
		ks1, ks2 = keystream(k1, nonce, len(p1)), keystream(k2, nonce, len(p1))
		if ks1[len(p1)-1] == ks2[len(p1)-1] {
			break
		}
	}
	ct := xor(p1, ks1)

	// Solve for ciphertext block 3 so that both keys give the same tag:
	// GHASH is affine in each block, so tag_k(c) = g_k ^ c*m_k ^ E_k(J0).
	const free = 3
	set := func(b []byte) []byte { c := bytes.Clone(ct); copy(c[free*16:], b); return c }
	zero, one := make([]byte, 16), append([]byte{0x80}, make([]byte, 15)...) // 1 in GCM's bit order
	h1, h2 := aesBlock(k1, make([]byte, 16)), aesBlock(k2, make([]byte, 16))
	g1, g2 := ghash(h1, adb, set(zero)), ghash(h2, adb, set(zero))
	m1 := xor(ghash(h1, adb, set(one)), g1)
	m2 := xor(ghash(h2, adb, set(one)), g2)
	j0 := append(bytes.Clone(nonce), 0, 0, 0, 1)
	rhs := xor(xor(g1, g2), xor(aesBlock(k1, j0), aesBlock(k2, j0)))
	c := gfMul(rhs, gfInv(xor(m1, m2)))
	ct = set(c)
	tag := xor(ghash(h1, adb, ct), aesBlock(k1, j0))
	sealed := append(ct, tag...)

	// Plain AES-GCM: one ciphertext, two keys, two plaintexts.
	pa, errA := gcmOpen(k1, nonce, sealed, adb)
	pb, errB := gcmOpen(k2, nonce, sealed, adb)
	if errA != nil || errB != nil {
		t.Fatalf("the forged ciphertext does not open under both keys with plain GCM (%v, %v): the attack construction is wrong", errA, errB)
	}
	if bytes.Equal(pa, pb) {
		t.Fatal("both keys give the same plaintext")
	}
	if _, err := unframe(pb, pb[:CommitSize]); err != nil {
		t.Fatalf("Bob's plaintext is not validly padded (%v): the test would not isolate the commitment", err)
	}

	// The envelope the malicious sender sends: key 1 for Alice, key 2 for Bob.
	env := &Envelope{V: Version, Nonce: nonce, Ciphertext: sealed}
	for _, w := range []struct {
		d  device
		mk []byte
	}{{alice, k1}, {bob, k2}} {
		k, err := wrap(newSeededReader(w.d.id), w.mk, adb, w.d.recipient())
		if err != nil {
			t.Fatal(err)
		}
		env.Keys = append(env.Keys, k)
	}
	got, err := Open(env, testAD, alice.id, alice.priv)
	if err != nil || !bytes.Equal(got[:16], content[:16]) || len(got) != len(content) {
		t.Fatalf("Alice: Open = %q, %v; want her content", got, err)
	}
	if got, err := Open(env, testAD, bob.id, bob.priv); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("Bob: Open = %q, %v; want ErrDecrypt (key commitment)", got, err)
	}
}

func aesBlock(key, in []byte) []byte {
	b, _ := aes.NewCipher(key)
	out := make([]byte, 16)
	b.Encrypt(out, in)
	return out
}

// keystream is GCM's CTR keystream for a 12-byte nonce: counter blocks
// start at 2 (1 is J0, for the tag).
func keystream(key, nonce []byte, n int) []byte {
	var out []byte
	ctr := append(bytes.Clone(nonce), 0, 0, 0, 0)
	for i := uint32(2); len(out) < n; i++ {
		binary.BigEndian.PutUint32(ctr[12:], i)
		out = append(out, aesBlock(key, ctr)...)
	}
	return out[:n]
}

func xor(a, b []byte) []byte {
	out := make([]byte, len(a))
	for i := range a {
		out[i] = a[i] ^ b[i]
	}
	return out
}

// gfMul multiplies in GF(2^128) as GCM defines it (NIST SP 800-38D,
// algorithm 1: bit 0 is the most significant bit of byte 0).
func gfMul(x, y []byte) []byte {
	xh, xl := binary.BigEndian.Uint64(x), binary.BigEndian.Uint64(x[8:])
	vh, vl := binary.BigEndian.Uint64(y), binary.BigEndian.Uint64(y[8:])
	var zh, zl uint64
	for i := range 128 {
		var bit uint64
		if i < 64 {
			bit = xh >> (63 - i) & 1
		} else {
			bit = xl >> (127 - i) & 1
		}
		if bit == 1 {
			zh, zl = zh^vh, zl^vl
		}
		lsb := vl & 1
		vl = vl>>1 | vh<<63
		vh >>= 1
		if lsb == 1 {
			vh ^= 0xe1 << 56
		}
	}
	out := make([]byte, 16)
	binary.BigEndian.PutUint64(out, zh)
	binary.BigEndian.PutUint64(out[8:], zl)
	return out
}

// gfInv is x^(2^128-2), the inverse of a non-zero x.
func gfInv(x []byte) []byte {
	result := append([]byte{0x80}, make([]byte, 15)...)
	sq := x
	for i := 1; i < 128; i++ { // exponent bits 1..127 are set, bit 0 is not
		sq = gfMul(sq, sq)
		result = gfMul(result, sq)
	}
	return result
}

// ghash is GCM's GHASH over the associated data and ciphertext.
func ghash(h, a, c []byte) []byte {
	y := make([]byte, 16)
	absorb := func(data []byte) {
		for i := 0; i < len(data); i += 16 {
			block := make([]byte, 16)
			copy(block, data[i:min(i+16, len(data))])
			y = gfMul(xor(y, block), h)
		}
	}
	absorb(a)
	absorb(c)
	lens := make([]byte, 16)
	binary.BigEndian.PutUint64(lens, uint64(len(a))*8)
	binary.BigEndian.PutUint64(lens[8:], uint64(len(c))*8)
	absorb(lens)
	return y
}
