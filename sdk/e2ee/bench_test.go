package e2ee

import (
	"fmt"
	"testing"
)

// BenchmarkSeal is the sender's cost per message by recipient devices: one
// ephemeral X25519 key and agreement per recipient dominate.
func BenchmarkSeal(b *testing.B) {
	content := []byte(`{"text":"a typical short chat message, about eighty bytes long in JSON"}`)
	for _, n := range []int{2, 10, 50} {
		rs := recipients(newDevices(b, n))
		b.Run(fmt.Sprintf("recipients=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Seal(content, testAD, rs); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkOpen is a recipient's cost, independent of the recipient count
// but for the search of its wrapped key.
func BenchmarkOpen(b *testing.B) {
	content := []byte(`{"text":"a typical short chat message, about eighty bytes long in JSON"}`)
	for _, n := range []int{2, 50} {
		ds := newDevices(b, n)
		env, err := Seal(content, testAD, recipients(ds))
		if err != nil {
			b.Fatal(err)
		}
		last := ds[n-1]
		b.Run(fmt.Sprintf("recipients=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Open(env, testAD, last.id, last.priv); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkValidate is persist's cost per message.
func BenchmarkValidate(b *testing.B) {
	env, err := Seal([]byte("x"), testAD, recipients(newDevices(b, 50)))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := env.Validate(); err != nil {
			b.Fatal(err)
		}
	}
}
