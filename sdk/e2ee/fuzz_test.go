package e2ee

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"testing"
)

// fuzzSeed is one real envelope and the key that opens it.
func fuzzSeed(f *testing.F) (*Envelope, device) {
	raw, err := os.ReadFile(vectorsPath)
	if err != nil {
		f.Fatal(err)
	}
	var vf vectorFile
	if err := json.Unmarshal(raw, &vf); err != nil {
		f.Fatal(err)
	}
	v := vf.Vectors[0]
	priv, err := ParsePrivateKey(v.Recipients[0].PrivateKey)
	if err != nil {
		f.Fatal(err)
	}
	return v.Envelope, device{id: v.Recipients[0].Device, priv: priv}
}

// FuzzOpen feeds Open arbitrary envelopes, built field by field from a real
// one so that mutations reach the cryptography. Open must never panic, must
// fail only with its sentinels, and may succeed only on the untouched
// envelope: anything else opening would be a forgery.
func FuzzOpen(f *testing.F) {
	env, d := fuzzSeed(f)
	vf := fuzzVector(f)
	k := env.Keys[0]
	f.Add(env.V, env.Nonce, env.Ciphertext, k.Device, k.Ephemeral, k.Nonce, k.Wrapped, vf.AD.Conversation, vf.AD.SenderDevice, vf.AD.ClientMessageID)
	f.Add(1, make([]byte, 12), make([]byte, 16), d.id, make([]byte, 32), make([]byte, 12), make([]byte, 48), "", "", "")
	f.Fuzz(func(t *testing.T, v int, nonce, ct []byte, dev string, epk, wnonce, wk []byte, conv, sender, cmid string) {
		e := &Envelope{V: v, Nonce: nonce, Ciphertext: ct, Keys: []WrappedKey{{Device: dev, Ephemeral: epk, Nonce: wnonce, Wrapped: wk}}}
		ad := AssociatedData{conv, sender, cmid}
		got, err := Open(e, ad, d.id, d.priv)
		if err != nil {
			for _, s := range []error{ErrShape, ErrVersion, ErrNotRecipient, ErrDecrypt, ErrPadding} {
				if errors.Is(err, s) {
					return
				}
			}
			t.Fatalf("Open: unexpected error %v", err)
		}
		same := v == env.V && bytes.Equal(nonce, env.Nonce) && bytes.Equal(ct, env.Ciphertext) &&
			dev == k.Device && bytes.Equal(epk, k.Ephemeral) && bytes.Equal(wnonce, k.Nonce) && bytes.Equal(wk, k.Wrapped) &&
			ad == (AssociatedData{vf.AD.Conversation, vf.AD.SenderDevice, vf.AD.ClientMessageID})
		if !same {
			t.Fatalf("Open accepted a changed envelope and returned %q", got)
		}
	})
}

func fuzzVector(f *testing.F) vector {
	raw, _ := os.ReadFile(vectorsPath)
	var vf vectorFile
	if err := json.Unmarshal(raw, &vf); err != nil {
		f.Fatal(err)
	}
	return vf.Vectors[0]
}

// FuzzOpenJSON is Open on envelopes as they arrive: arbitrary JSON.
func FuzzOpenJSON(f *testing.F) {
	env, d := fuzzSeed(f)
	b, _ := json.Marshal(env)
	f.Add(b)
	f.Add([]byte(`{"v":1,"nonce":"","ct":"","keys":[{"device":"x"}]}`))
	f.Add([]byte(`null`))
	ad := AssociatedData{"conv-7Hq2", "dev-alice-phone", "01J9Z8K6W1"}
	f.Fuzz(func(t *testing.T, data []byte) {
		var e *Envelope
		if json.Unmarshal(data, &e) != nil {
			return
		}
		_, _ = Open(e, ad, d.id, d.priv)
	})
}

// FuzzValidate is what persist runs on every message: decode and Validate
// must never panic, and a valid envelope stays valid through JSON.
func FuzzValidate(f *testing.F) {
	env, _ := fuzzSeed(f)
	b, _ := json.Marshal(env)
	f.Add(b)
	good, _ := json.Marshal(validEnvelope())
	f.Add(good)
	f.Add([]byte(`{"v":2}`))
	f.Add([]byte(`{"v":1,"nonce":"AAAAAAAAAAAAAAAA","ct":"","keys":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var e *Envelope
		if json.Unmarshal(data, &e) != nil {
			return
		}
		if err := e.Validate(); err != nil {
			if !errors.Is(err, ErrShape) {
				t.Fatalf("Validate error %v does not wrap ErrShape", err)
			}
			return
		}
		again, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		var e2 *Envelope
		if err := json.Unmarshal(again, &e2); err != nil {
			t.Fatal(err)
		}
		if err := e2.Validate(); err != nil {
			t.Fatalf("valid envelope invalid after a JSON roundtrip: %v", err)
		}
	})
}

// FuzzUnframe: the padding parser never panics and accepts only what frame
// writes.
func FuzzUnframe(f *testing.F) {
	commit := bytes.Repeat([]byte{7}, CommitSize)
	f.Add(frame(commit, []byte("hello")))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, p []byte) {
		content, err := unframe(p, commit)
		if err != nil {
			return
		}
		if !bytes.Equal(frame(commit, content), p) {
			t.Fatalf("unframe accepted %x, which frame would not write", p)
		}
	})
}

// FuzzUnmarshalContent: any bytes a sender sealed are safe to read.
func FuzzUnmarshalContent(f *testing.F) {
	f.Add([]byte(`{"text":"hi","replyTo":3}`))
	f.Add([]byte(`{"text":"x","media":{"id":"m","type":"image/png","key":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := UnmarshalContent(b)
		if err != nil {
			return
		}
		if _, err := c.Marshal(); err != nil {
			t.Fatalf("content read back cannot be written: %v", err)
		}
	})
}
