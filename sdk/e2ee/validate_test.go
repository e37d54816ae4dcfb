package e2ee

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// validEnvelope is a well-formed envelope built by hand: Validate never
// needs keys.
func validEnvelope() *Envelope {
	return &Envelope{
		V:          Version,
		Nonce:      make([]byte, 12),
		Ciphertext: make([]byte, PadBlock+16),
		Keys: []WrappedKey{
			{Device: "dev-a", Ephemeral: make([]byte, 32), Nonce: make([]byte, 12), Wrapped: make([]byte, 48)},
			{Device: "dev-b", Ephemeral: make([]byte, 32), Nonce: make([]byte, 12), Wrapped: make([]byte, 48)},
		},
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(e *Envelope)
		want   error // nil: valid
	}{
		{"valid", func(e *Envelope) {}, nil},
		{"smallest ciphertext", func(e *Envelope) { e.Ciphertext = make([]byte, 16) }, nil},
		{"largest ciphertext", func(e *Envelope) { e.Ciphertext = make([]byte, MaxCiphertext) }, nil},
		{"longest device id", func(e *Envelope) { e.Keys[0].Device = strings.Repeat("d", MaxDeviceID) }, nil},
		{"version 0", func(e *Envelope) { e.V = 0 }, ErrVersion},
		{"version 3", func(e *Envelope) { e.V = 3 }, ErrVersion},
		{"v2 without an epoch", func(e *Envelope) { e.V = 2 }, ErrShape},
		{"v1 with an epoch", func(e *Envelope) { e.Epoch = 7 }, ErrShape},
		{"v1 with an index", func(e *Envelope) { e.Index = 7 }, ErrShape},
		{"v2 with epoch and no keys", func(e *Envelope) { e.V, e.Epoch, e.Keys = 2, 7, nil }, nil},
		{"v1 with no keys", func(e *Envelope) { e.Keys = nil }, ErrShape},
		{"no nonce", func(e *Envelope) { e.Nonce = nil }, ErrShape},
		{"short nonce", func(e *Envelope) { e.Nonce = make([]byte, 11) }, ErrShape},
		{"long nonce", func(e *Envelope) { e.Nonce = make([]byte, 13) }, ErrShape},
		{"no ciphertext", func(e *Envelope) { e.Ciphertext = nil }, ErrShape},
		{"ciphertext shorter than tag", func(e *Envelope) { e.Ciphertext = make([]byte, 15) }, ErrShape},
		{"ciphertext too long", func(e *Envelope) { e.Ciphertext = make([]byte, MaxCiphertext+1) }, ErrShape},
		{"no keys", func(e *Envelope) { e.Keys = nil }, ErrShape},
		{"too many keys", func(e *Envelope) { e.Keys = manyKeys(MaxRecipients + 1) }, ErrShape},
		{"empty device id", func(e *Envelope) { e.Keys[1].Device = "" }, ErrShape},
		{"long device id", func(e *Envelope) { e.Keys[0].Device = strings.Repeat("d", MaxDeviceID+1) }, ErrShape},
		{"device twice", func(e *Envelope) { e.Keys[1].Device = e.Keys[0].Device }, ErrShape},
		{"short ephemeral key", func(e *Envelope) { e.Keys[0].Ephemeral = make([]byte, 31) }, ErrShape},
		{"no ephemeral key", func(e *Envelope) { e.Keys[1].Ephemeral = nil }, ErrShape},
		{"short wrap nonce", func(e *Envelope) { e.Keys[0].Nonce = make([]byte, 8) }, ErrShape},
		{"short wrapped key", func(e *Envelope) { e.Keys[0].Wrapped = make([]byte, 32) }, ErrShape},
		{"long wrapped key", func(e *Envelope) { e.Keys[1].Wrapped = make([]byte, 49) }, ErrShape},
	}
	for _, tt := range tests {
		e := validEnvelope()
		tt.change(e)
		err := e.Validate()
		switch {
		case tt.want == nil && err != nil:
			t.Errorf("%s: Validate = %v, want nil", tt.name, err)
		case tt.want != nil && !errors.Is(err, tt.want):
			t.Errorf("%s: Validate = %v, want %v", tt.name, err, tt.want)
		case tt.want != nil && !errors.Is(err, ErrShape):
			t.Errorf("%s: Validate = %v, does not wrap ErrShape", tt.name, err)
		}
	}
	var nilEnv *Envelope
	if err := nilEnv.Validate(); !errors.Is(err, ErrShape) {
		t.Errorf("nil: Validate = %v, want ErrShape", err)
	}
}

func manyKeys(n int) []WrappedKey {
	ks := make([]WrappedKey, n)
	for i := range ks {
		ks[i] = WrappedKey{Device: fmt.Sprintf("dev-%d", i), Ephemeral: make([]byte, 32), Nonce: make([]byte, 12), Wrapped: make([]byte, 48)}
	}
	return ks
}

func TestDevices(t *testing.T) {
	got := strings.Join(validEnvelope().Devices(), ",")
	if want := "dev-a,dev-b"; got != want {
		t.Fatalf("Devices = %s, want %s", got, want)
	}
}

// TestEnvelopeJSON pins the wire names others code against.
func TestEnvelopeJSON(t *testing.T) {
	e := &Envelope{V: 1, Nonce: []byte{1}, Ciphertext: []byte{2}, Keys: []WrappedKey{{Device: "d", Ephemeral: []byte{3}, Nonce: []byte{4}, Wrapped: []byte{5}}}}
	got, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"v":1,"nonce":"AQ==","ct":"Ag==","keys":[{"device":"d","epk":"Aw==","nonce":"BA==","wk":"BQ=="}]}`
	if !bytes.Equal(got, []byte(want)) {
		t.Fatalf("JSON = %s, want %s", got, want)
	}
}
