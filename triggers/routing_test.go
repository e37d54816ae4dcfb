package triggers

import (
	"cmp"
	"context"
	"sort"
	"strings"
	"testing"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"knative.dev/eventing/pkg/eventfilter"

	"github.com/agentchat/agentchat/sdk/events"
)

// TestRoutingTable is the platform's routing table, evaluated with
// Knative's own filters over the real manifests: which Triggers each event
// of the catalog reaches.
func TestRoutingTable(t *testing.T) {
	ts, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	filters := make([]eventfilter.Filter, len(ts))
	for i := range ts {
		filters[i] = NewFilter(&ts[i])
		defer filters[i].Cleanup()
	}
	route := func(typ, source string, ext map[string]string) string {
		e := cloudevents.NewEvent()
		e.SetID("1")
		e.SetSource(cmp.Or(source, "/test"))
		e.SetType(typ)
		for k, v := range ext {
			e.SetExtension(k, v)
		}
		var got []string
		for i, f := range filters {
			if f.Filter(context.Background(), e) != eventfilter.FailFilter {
				got = append(got, ts[i].Name)
			}
		}
		sort.Strings(got)
		return strings.Join(got, ",")
	}
	model := map[string]string{events.ExtAgentKind: "model"}
	tests := []struct {
		typ  string
		ext  map[string]string
		want string
	}{
		{events.TypeMessageSent, nil, "persist"},
		{events.TypeMessageStored, nil, "push,route"},
		{events.TypeMessageRejected, nil, "route"},
		// persist's answer to an agent's reply also goes to its runtime.
		{events.TypeMessageStored, map[string]string{events.ExtSenderID: "helper", events.ExtAgentID: "helper", events.ExtAgentKind: "model"}, "agent-invoke-outcome,push,route"},
		{events.TypeMessageRejected, map[string]string{events.ExtSenderID: "helper", events.ExtAgentKind: "model"}, "agent-invoke-outcome,route"},
		{events.TypeMessageStored, map[string]string{events.ExtSenderID: "calc", events.ExtAgentID: "calc", events.ExtAgentKind: "calc"}, "calc-agent-outcome,push,route"},
		{events.TypeMessageRejected, map[string]string{events.ExtSenderID: "calc"}, "calc-agent-outcome,route"},
		{events.TypeMessageStored, map[string]string{events.ExtSenderID: "alice"}, "push,route"},
		{events.TypeReceiptDelivered, nil, "persist"},
		{events.TypeReceiptRead, nil, "persist"},
		{events.TypeTyping, nil, "route-typing"},
		{events.TypeSyncRequested, nil, "route"},
		{events.TypeSyncBatch, nil, ""},
		{events.TypeResumeRequested, nil, "route"},
		{events.TypeResumeBatch, nil, ""},
		{events.TypeAgentInvoke, model, "agent-invoke"},
		{events.TypeAgentInvoke, map[string]string{events.ExtAgentKind: "webhook"}, ""},
		{events.TypeAgentInvoke, nil, ""},
		{events.TypeAgentInvoke, map[string]string{events.ExtAgentID: "calc", events.ExtAgentKind: "calc"}, "calc-agent"},
		{events.TypeAgentInvoke, map[string]string{events.ExtAgentID: "other", events.ExtAgentKind: "calc"}, ""},
		{events.TypeAgentPartial, nil, "route-agent"},
		{events.TypeAgentStatus, model, "route-agent"},
		{events.TypeAgentDone, model, "route-agent"},
		{events.TypeAgentError, nil, "route-agent"},
		{events.TypeMediaUploadRequested, nil, "media"},
		{events.TypeMediaUploadReady, nil, "route-media"},
		{events.TypeMediaUploadCompleted, nil, "media"},
		{events.TypeMediaStored, nil, "route-media"},
		{events.TypeMediaDownloadRequested, nil, "media"},
		{events.TypeMediaDownloadReady, nil, "route-media"},
		{events.TypeMediaRejected, nil, "route-media"},
		// A tool call goes to the tool's function (toolname); its result
		// back to the runtime of the agent's kind.
		{events.TypeToolCalled, map[string]string{events.ExtToolName: "history", events.ExtAgentKind: "model"}, "history-tool"},
		{events.TypeToolCalled, map[string]string{events.ExtToolName: "http", events.ExtAgentKind: "model"}, "http-tool"},
		{events.TypeToolCalled, map[string]string{events.ExtToolName: "unknown"}, ""},
		{events.TypeToolResult, map[string]string{events.ExtToolName: "http", events.ExtAgentKind: "model"}, "agent-invoke-tool-result"},
		{events.TypeToolResult, map[string]string{events.ExtToolName: "http", events.ExtAgentKind: "calc"}, ""},
		{events.TypeConversationChanged, nil, "persist-directory,route-directory"},
		{events.TypeDeviceChanged, nil, "persist-directory,route-directory"},
		{events.TypePresenceChanged, nil, "route-presence"},
		{events.TypePresenceRequested, nil, "route-presence"},
		{events.TypePresenceState, nil, ""},
		{"io.agentchat.agent.unknown", nil, "route-agent"},
		{"com.example.other", nil, ""},
	}
	covered := map[string]bool{}
	for _, tt := range tests {
		covered[tt.typ] = true
		if got := route(tt.typ, "", tt.ext); got != tt.want {
			t.Errorf("%s %v: got Triggers [%s], want [%s]", tt.typ, tt.ext, got, tt.want)
		}
	}
	// A device's receipt (from a connector) goes to persist only; route
	// fans out the receipt persist stored (its reply), which persist does
	// not take back.
	for _, typ := range []string{events.TypeReceiptDelivered, events.TypeReceiptRead} {
		for source, want := range map[string]string{events.SourceConnectorPrefix + "c-1": "persist", events.SourcePersist: "route"} {
			if got := route(typ, source, nil); got != want {
				t.Errorf("%s from %s: got Triggers [%s], want [%s]", typ, source, got, want)
			}
		}
	}
	for _, typ := range events.AllTypes {
		if !covered[typ] {
			t.Errorf("catalog type %s is missing from the routing table test", typ)
		}
	}
}
