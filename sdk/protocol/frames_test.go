package protocol_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/agentchat/agentchat/sdk/protocol"
)

const env = `{"v":1,"nonce":"AAAAAAAAAAAAAAAA","ct":"AAAAAAAAAAAAAAAAAAAAAA==","keys":[{"device":"d1","epk":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","nonce":"AAAAAAAAAAAAAAAA","wk":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}]}`

func TestDecodeAcceptsEveryClientFrame(t *testing.T) {
	for _, in := range []string{
		`{"type":"send","id":"m-1","conversation":"c1","envelope":` + env + `}`,
		`{"type":"delivered","conversation":"c1","seq":3}`,
		`{"type":"read","conversation":"c1","seq":1}`,
		`{"type":"typing","conversation":"c1","state":"typing"}`,
		`{"type":"typing","conversation":"c1","state":"paused"}`,
		`{"type":"sync","conversation":"c1","after":0}`,
		`{"type":"sync","conversation":"c1","after":41,"limit":50}`,
		`{"type":"sync","id":"s-1","conversation":"c1","after":41,"limit":50,"receipts":true}`,
		`{"type":"sync","id":"page:3","conversation":"c1","after":0,"before":120,"limit":50}`,
		`{"type":"send","id":"m-1","conversation":"c1","seq":0,"envelope":` + env + `}`, // a zero value is no value
		`{"type":"ping"}`,
		`{"type":"ping","id":"p-7"}`,
	} {
		if _, err := protocol.Decode([]byte(in)); err != nil {
			t.Errorf("Decode(%s): %v", in, err)
		}
	}
}

func TestDecodeRejects(t *testing.T) {
	for _, tc := range []struct {
		name, in, code, ref string
	}{
		{"not json", `{"type":`, protocol.CodeBadFrame, ""},
		{"two objects", `{"type":"ping"}{"type":"ping"}`, protocol.CodeBadFrame, ""},
		{"unknown field", `{"type":"ping","colour":"red"}`, protocol.CodeBadFrame, ""},
		{"no type", `{"id":"x"}`, protocol.CodeBadFrame, "x"},
		{"unknown type", `{"type":"teleport"}`, protocol.CodeUnknownType, ""},
		{"server frame from a client", `{"type":"hello"}`, protocol.CodeUnknownType, ""},
		{"send without envelope", `{"type":"send","id":"m-1","conversation":"c1"}`, protocol.CodeBadFrame, "m-1"},
		{"send without id", `{"type":"send","conversation":"c1","envelope":` + env + `}`, protocol.CodeBadFrame, ""},
		{"send with spoofed sender", `{"type":"send","id":"m-2","conversation":"c1","sender":"mallory","envelope":` + env + `}`, protocol.CodeBadFrame, "m-2"},
		{"send with spoofed device", `{"type":"send","id":"m-3","conversation":"c1","senderDevice":"d9","envelope":` + env + `}`, protocol.CodeBadFrame, "m-3"},
		{"ack with spoofed user", `{"type":"read","conversation":"c1","seq":1,"user":"bob"}`, protocol.CodeBadFrame, ""},
		{"ack with spoofed device", `{"type":"read","conversation":"c1","seq":1,"device":"d2"}`, protocol.CodeBadFrame, ""},
		{"ack seq 0", `{"type":"delivered","conversation":"c1","seq":0}`, protocol.CodeBadFrame, ""},
		{"typing bad state", `{"type":"typing","conversation":"c1","state":"thinking"}`, protocol.CodeBadFrame, ""},
		{"sync negative after", `{"type":"sync","conversation":"c1","after":-1}`, protocol.CodeBadFrame, ""},
		{"sync no conversation", `{"type":"sync","after":0}`, protocol.CodeBadFrame, ""},
		{"send with seq", `{"type":"send","id":"m-4","conversation":"c1","seq":7,"envelope":` + env + `}`, protocol.CodeBadFrame, "m-4"},
		{"send with storedAt", `{"type":"send","id":"m-5","conversation":"c1","storedAt":"2026-01-01T00:00:00Z","envelope":` + env + `}`, protocol.CodeBadFrame, "m-5"},
		{"send with limit", `{"type":"send","id":"m-6","conversation":"c1","limit":3,"envelope":` + env + `}`, protocol.CodeBadFrame, "m-6"},
		{"ack with state", `{"type":"read","conversation":"c1","seq":1,"state":"typing"}`, protocol.CodeBadFrame, ""},
		{"typing with seq", `{"type":"typing","conversation":"c1","state":"typing","seq":3}`, protocol.CodeBadFrame, ""},
		{"sync with envelope", `{"type":"sync","conversation":"c1","after":0,"envelope":` + env + `}`, protocol.CodeBadFrame, ""},
		{"sync negative before", `{"type":"sync","conversation":"c1","after":0,"before":-1}`, protocol.CodeBadFrame, ""},
		{"page with receipts", `{"type":"sync","conversation":"c1","after":0,"before":9,"receipts":true}`, protocol.CodeBadFrame, ""},
		{"sync with more", `{"type":"sync","conversation":"c1","after":0,"more":true}`, protocol.CodeBadFrame, ""},
		{"ping with conversation", `{"type":"ping","id":"p-1","conversation":"c1"}`, protocol.CodeBadFrame, "p-1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := protocol.Decode([]byte(tc.in))
			var pe *protocol.Error
			if !errors.As(err, &pe) {
				t.Fatalf("Decode: got %v, want a *protocol.Error", err)
			}
			if got, want := pe.Code, tc.code; got != want {
				t.Errorf("code: got %q, want %q (%v)", got, want, err)
			}
			if got, want := pe.Ref, tc.ref; got != want {
				t.Errorf("ref: got %q, want %q", got, want)
			}
		})
	}
}

func TestDecodeRejectsOversizedFrames(t *testing.T) {
	big := `{"type":"ping","id":"` + strings.Repeat("x", protocol.MaxFrameSize) + `"}`
	_, err := protocol.Decode([]byte(big))
	var pe *protocol.Error
	if !errors.As(err, &pe) || pe.Code != protocol.CodeTooLarge {
		t.Fatalf("got %v, want %s", err, protocol.CodeTooLarge)
	}
}

func TestErrorFrameCarriesCodeAndRef(t *testing.T) {
	f := (&protocol.Error{Code: protocol.CodeUnavailable, Message: "try again", Ref: "m-1"}).Frame()
	got, _ := json.Marshal(f)
	want := `{"type":"error","id":"m-1","code":"unavailable","message":"try again"}`
	if string(got) != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestServerFramesOmitEmptyFields(t *testing.T) {
	for _, tc := range []struct {
		f    protocol.Frame
		want string
	}{
		{protocol.Frame{Type: protocol.TypeHello, User: "u", Device: "d", Connector: "c"}, `{"type":"hello","user":"u","device":"d","connector":"c"}`},
		{protocol.Frame{Type: protocol.TypeReconnect, AfterMs: 1500}, `{"type":"reconnect","afterMs":1500}`},
		{protocol.Frame{Type: protocol.TypeResync}, `{"type":"resync"}`},
		{protocol.Frame{Type: protocol.TypeTyping, Conversation: "c1", Sender: "bob", State: "typing"}, `{"type":"typing","conversation":"c1","sender":"bob","state":"typing"}`},
	} {
		got, err := json.Marshal(tc.f)
		if err != nil || string(got) != tc.want {
			t.Errorf("got %s (%v), want %s", got, err, tc.want)
		}
	}
}

// FuzzDecode checks that Decode never panics, that every error it returns
// is a *protocol.Error, and that what it accepts survives a round trip:
// encoding the frame and decoding it again gives the same frame.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"type":"send","id":"m-1","conversation":"c1","envelope":` + env + `}`,
		`{"type":"delivered","conversation":"c1","seq":3}`,
		`{"type":"typing","conversation":"c1","state":"typing"}`,
		`{"type":"sync","conversation":"c1","after":41,"limit":50}`,
		`{"type":"ping","id":"p"}`,
		`{"type":"send","id":"m","conversation":"c","storedAt":"2026-01-02T03:04:05.678+01:00","envelope":{"v":1}}`,
		`{"type":"ping","messages":[{"type":"message","seq":1}]}`,
		`{"type":"x"}`, `{}`, `[]`, `null`, `{"type":"ping"} `,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fr, err := protocol.Decode(data)
		if err != nil {
			var pe *protocol.Error
			if !errors.As(err, &pe) || pe.Code == "" {
				t.Fatalf("Decode(%q): error %v is not a protocol error", data, err)
			}
			return
		}
		first, err := json.Marshal(fr)
		if err != nil {
			t.Fatalf("Marshal of accepted frame %q: %v", data, err)
		}
		again, err := protocol.Decode(first)
		if err != nil {
			t.Fatalf("Decode of re-encoded %s (from %q): %v", first, data, err)
		}
		second, _ := json.Marshal(again)
		if !bytes.Equal(first, second) {
			t.Fatalf("round trip changed the frame:\n%s\n%s", first, second)
		}
	})
}
