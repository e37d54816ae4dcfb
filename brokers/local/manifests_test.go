package local

import (
	"net/http"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/agentchat/agentchat/brokers"
	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/triggers"
)

// The real manifests run in the local broker: a sent message reaches
// persist, persist's stored reply reaches route, and an invoke for a
// model agent reaches agent-invoke.
func TestRealManifests(t *testing.T) {
	br, err := brokers.LoadBroker(brokers.Dev)
	if err != nil {
		t.Fatal(err)
	}
	ts, err := triggers.Load()
	if err != nil {
		t.Fatal(err)
	}
	persist := newSubscriber(t, func(_ int, e event.Event) (int, *event.Event) {
		if e.Type() != events.TypeMessageSent {
			return http.StatusOK, nil
		}
		r := newEvent("stored-"+e.ID(), events.TypeMessageStored, nil)
		return http.StatusOK, &r
	})
	route := newSubscriber(t, nil)
	agent := newSubscriber(t, nil)
	b, url := start(t, Config{
		Broker:   br,
		Triggers: ts,
		Subscribers: map[string]string{
			"persist": persist.URL(), "route": route.URL(), "agent-invoke": agent.URL(),
		},
	})
	post(t, url+"/agentchat/agentchat", newEvent("m1", events.TypeMessageSent, nil), false)
	post(t, url, newEvent("i1", events.TypeAgentInvoke, map[string]any{events.ExtAgentKind: "model"}), true)
	post(t, url, newEvent("t1", events.TypeTyping, nil), false)
	eventually(t, 5*time.Second, "routing", func() bool {
		return delivered(b, "persist", events.TypeMessageSent) == 1 &&
			delivered(b, "route", events.TypeMessageStored) == 1 &&
			delivered(b, "agent-invoke", events.TypeAgentInvoke) == 1 &&
			delivered(b, "route-typing", events.TypeTyping) == 1
	})
	if got := agent.all()[0].event.ID(); got != "i1" {
		t.Errorf("agent-invoke got %q", got)
	}
}
