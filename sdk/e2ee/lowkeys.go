package e2ee

import (
	"encoding/hex"
	"fmt"
	"math/big"
	"slices"
)

// ValidatePublicKey is the one check of a device's X25519 public key: the
// accounts key directory runs it at every registration and Seal runs it for
// every recipient. It refuses
//
//   - anything but 32 bytes (ErrKey);
//   - a low-order point (ErrLowOrderKey): a u-coordinate that is, modulo
//     p = 2^255 - 19, one of the five points of small order on Curve25519 or
//     its twist (0, 1, the two points of order 8, p-1), whether the encoding
//     is read as RFC 7748 reads it (bit 255 ignored) or as a 256-bit number
//     (the original Curve25519). X25519 with such a key gives an all-zero
//     secret whatever the other private key: anyone could unwrap what is
//     sealed for it, so no conforming client seals for it;
//   - a non-canonical encoding (ErrNonCanonicalKey): bit 255 set, or a
//     u-coordinate from p to 2^255-1. RFC 7748 would reduce it, but every
//     honest implementation (crypto/ecdh, WebCrypto) emits canonical keys,
//     and one point must have one encoding in the directory.
//
// Every encoding published as low-order (LowOrderKeys) is refused; errors
// wrap ErrKey and never contain the key's bytes.
func ValidatePublicKey(b []byte) error {
	if len(b) != KeySize {
		return fmt.Errorf("%w: public key must be %d bytes, not %d", ErrKey, KeySize, len(b))
	}
	be := slices.Clone(b)
	slices.Reverse(be) // little-endian on the wire
	full := new(big.Int).SetBytes(be)
	masked := new(big.Int).SetBytes(be)
	masked.SetBit(masked, 255, 0)
	for _, u := range []*big.Int{masked, full} {
		if isLowOrder(new(big.Int).Mod(u, fieldP)) {
			return ErrLowOrderKey
		}
	}
	if full.Bit(255) == 1 || masked.Cmp(fieldP) >= 0 {
		return ErrNonCanonicalKey
	}
	return nil
}

// Key errors that ValidatePublicKey tells apart; both wrap ErrKey.
var (
	// ErrLowOrderKey: the key is a point of small order (see
	// ValidatePublicKey); accounts answers code "low_order_key".
	ErrLowOrderKey = fmt.Errorf("%w: low-order public key", ErrKey)
	// ErrNonCanonicalKey: the key's encoding is not the canonical one (bit
	// 255 set or u >= p); accounts answers code "non_canonical_key".
	ErrNonCanonicalKey = fmt.Errorf("%w: non-canonical public key encoding", ErrKey)
)

// fieldP is p = 2^255 - 19.
var fieldP = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 255), big.NewInt(19))

// lowOrderU are the u-coordinates in [0, p) of the points of small order of
// Curve25519 and its twist (the libsodium blocklist and D. J. Bernstein's
// "How do I validate Curve25519 public keys?", cr.yp.to/ecdh.html):
// 0 (order 2), 1 (order 4), the two points of order 8, and p-1 (order 4 on
// the twist).
var lowOrderU = func() []*big.Int {
	o8a, _ := new(big.Int).SetString("325606250916557431795983626356110631294008115727848805560023387167927233504", 10)
	o8b, _ := new(big.Int).SetString("39382357235489614581723060781553021112529911719440698176882885853963445705823", 10)
	return []*big.Int{big.NewInt(0), big.NewInt(1), o8a, o8b, new(big.Int).Sub(fieldP, big.NewInt(1))}
}()

func isLowOrder(u *big.Int) bool {
	return slices.ContainsFunc(lowOrderU, func(l *big.Int) bool { return l.Cmp(u) == 0 })
}

// lowOrderKeys are the published low-order encodings (little-endian hex):
// Bernstein's twelve (0, 1, the order-8 points, p-1, p, p+1, p + each
// order-8 point, 2p-1, 2p, 2p+1) and the libsodium blocklist's seven
// (the first seven of those) with bit 255 set, which RFC 7748 reads as the
// same points.
var lowOrderKeys = []string{
	"0000000000000000000000000000000000000000000000000000000000000000", // 0
	"0100000000000000000000000000000000000000000000000000000000000000", // 1
	"e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800", // order 8
	"5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157", // order 8
	"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // p-1
	"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // p
	"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // p+1
	"cdeb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b880", // p + order 8
	"4c9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f11d7", // p + order 8
	"d9ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", // 2p-1
	"daffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", // 2p
	"dbffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", // 2p+1
	"0000000000000000000000000000000000000000000000000000000000000080", // 0, bit 255
	"0100000000000000000000000000000000000000000000000000000000000080", // 1, bit 255
	"e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b880", // order 8, bit 255
	"5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f11d7", // order 8, bit 255
	"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", // p-1, bit 255
	"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", // p, bit 255
	"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", // p+1, bit 255
}

// LowOrderKeys returns the published low-order encodings listed above, each
// refused by ValidatePublicKey with ErrLowOrderKey: for tests of anything
// that stores keys or seals for them (accounts, other clients).
func LowOrderKeys() [][]byte {
	out := make([][]byte, len(lowOrderKeys))
	for i, h := range lowOrderKeys {
		out[i], _ = hex.DecodeString(h)
	}
	return out
}
