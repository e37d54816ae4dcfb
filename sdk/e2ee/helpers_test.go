package e2ee

import (
	"crypto/sha256"
	"fmt"
	"testing"
)

// device is one test recipient: its id, key and directory entry.
type device struct {
	id   string
	priv *PrivateKey
}

func (d device) recipient() Recipient { return Recipient{Device: d.id, PublicKey: d.priv.PublicKey()} }

// newDevices makes n devices with fresh random keys.
func newDevices(t testing.TB, n int) []device {
	t.Helper()
	ds := make([]device, n)
	for i := range ds {
		k, err := GenerateKey()
		if err != nil {
			t.Fatal(err)
		}
		ds[i] = device{id: fmt.Sprintf("dev-%d", i), priv: k}
	}
	return ds
}

func recipients(ds []device) []Recipient {
	rs := make([]Recipient, len(ds))
	for i, d := range ds {
		rs[i] = d.recipient()
	}
	return rs
}

// testAD is the associated data most tests seal under.
var testAD = AssociatedData{Conversation: "conv-1", SenderDevice: "dev-alice-1", ClientMessageID: "m-0001"}

// seededReader is a deterministic byte stream for tests only:
// SHA-256(seed || counter) blocks.
type seededReader struct {
	seed []byte
	ctr  uint64
	buf  []byte
}

func newSeededReader(seed string) *seededReader { return &seededReader{seed: []byte(seed)} }

func (r *seededReader) Read(p []byte) (int, error) {
	for len(r.buf) < len(p) {
		h := sha256.Sum256(fmt.Appendf(append([]byte(nil), r.seed...), "/%d", r.ctr))
		r.ctr++
		r.buf = append(r.buf, h[:]...)
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}
