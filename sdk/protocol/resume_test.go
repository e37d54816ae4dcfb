package protocol_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/agentchat/agentchat/sdk/protocol"
)

func TestDecodeResume(t *testing.T) {
	f, err := protocol.Decode([]byte(`{"type":"resume","id":"resume:1","positions":[{"conversation":"c1","seq":17},{"conversation":"c2","seq":0}],"from":"c0","limit":50,"receipts":true}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Positions) != 2 || f.Positions[0] != (protocol.Position{Conversation: "c1", Seq: 17}) || f.From != "c0" || f.Limit != 50 || !f.Receipts {
		t.Errorf("decoded %+v", f)
	}
	if _, err := protocol.Decode([]byte(`{"type":"resume"}`)); err != nil {
		t.Errorf("a resume of a client that knows no conversation yet: %v", err)
	}

	many := make([]string, protocol.MaxResumePositions+1)
	for i := range many {
		many[i] = fmt.Sprintf(`{"conversation":"c%d","seq":1}`, i)
	}
	for _, tc := range []struct{ name, in, code, ref string }{
		{"too many positions", `{"type":"resume","id":"r1","positions":[` + strings.Join(many, ",") + `]}`, protocol.CodeBadFrame, "r1"},
		{"a conversation twice", `{"type":"resume","id":"r2","positions":[{"conversation":"c1","seq":1},{"conversation":"c1","seq":2}]}`, protocol.CodeBadFrame, "r2"},
		{"negative seq", `{"type":"resume","positions":[{"conversation":"c1","seq":-1}]}`, protocol.CodeBadFrame, ""},
		{"no conversation", `{"type":"resume","positions":[{"seq":1}]}`, protocol.CodeBadFrame, ""},
		{"unknown position field", `{"type":"resume","positions":[{"conversation":"c1","after":1}]}`, protocol.CodeBadFrame, ""},
		{"negative limit", `{"type":"resume","limit":-1}`, protocol.CodeBadFrame, ""},
		{"a field of sync", `{"type":"resume","id":"r3","conversation":"c1"}`, protocol.CodeBadFrame, "r3"},
		{"positions on a sync", `{"type":"sync","conversation":"c1","after":0,"positions":[{"conversation":"c1","seq":1}]}`, protocol.CodeBadFrame, ""},
		{"a server frame", `{"type":"resumed","id":"r4"}`, protocol.CodeUnknownType, "r4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := protocol.Decode([]byte(tc.in))
			var pe *protocol.Error
			if !errors.As(err, &pe) {
				t.Fatalf("Decode: got %v, want a *protocol.Error", err)
			}
			if pe.Code != tc.code || pe.Ref != tc.ref {
				t.Errorf("got code %q ref %q (%v), want %q %q", pe.Code, pe.Ref, err, tc.code, tc.ref)
			}
		})
	}
}
