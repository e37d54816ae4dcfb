package function

import (
	"net/http"
	"slices"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/fn/fntest"
)

// TestChangeEvents: every committed directory change is announced to the
// broker (K_SINK) before the request is answered — a conversation's
// membership at each revision, a device registered or revoked — and a
// request that changes nothing announces nothing.
func TestChangeEvents(t *testing.T) {
	t.Parallel()
	broker := fntest.NewBroker(t)
	a := startAccounts(t, func(c *Config) { c.Sink = broker.URL })
	// announced before the answer: each is there when the call returns
	seen := 0
	next := func(typ string) event.Event {
		t.Helper()
		got := broker.Events()
		if len(got) == seen {
			t.Fatalf("no %s announced by the time the request was answered", typ)
		}
		e := got[seen]
		seen++
		if err := events.Validate(e); err != nil || e.Type() != typ {
			t.Fatalf("event %s (%v), want a valid %s", e.Type(), err, typ)
		}
		return e
	}
	none := func() {
		t.Helper()
		if got := broker.Events(); len(got) > seen {
			t.Fatalf("unexpected %s", got[seen].Type())
		}
	}
	conv := func(e event.Event) events.ConversationChanged {
		t.Helper()
		d, err := events.Decode[events.ConversationChanged](e)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	dev := func(e event.Event) events.DeviceChanged {
		t.Helper()
		d, err := events.Decode[events.DeviceChanged](e)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}

	hal := a.user("hal")
	if d := dev(next(events.TypeDeviceChanged)); d.User != hal.UserID || d.Device != hal.DeviceID || d.Revoked || d.PublicKey == "" {
		t.Errorf("login's device.changed = %+v", d)
	}
	ivy := a.user("ivy")
	next(events.TypeDeviceChanged)
	var g conversationView
	a.must(a.call("POST", "/v1/conversations", hal.AccessToken, map[string]any{"kind": "group", "members": []string{}, "title": "Plans"}), http.StatusCreated, &g)
	e := next(events.TypeConversationChanged)
	if d := conv(e); d.Rev != 1 || d.Kind != "group" || !slices.Equal(d.Members, []string{hal.UserID}) || e.Subject() != g.ConversationID ||
		d.Title != "Plans" || d.Removed != nil {
		t.Errorf("creation: %+v about %s", d, e.Subject())
	}
	path := "/v1/conversations/" + g.ConversationID + "/members"
	a.must(a.call("POST", path, hal.AccessToken, map[string]string{"userId": ivy.UserID}), http.StatusNoContent, nil)
	if d := conv(next(events.TypeConversationChanged)); d.Rev != 2 || !slices.Equal(d.Members, []string{hal.UserID, ivy.UserID}) || d.Title != "Plans" || d.Removed != nil {
		t.Errorf("add: %+v", d)
	}
	a.must(a.call("POST", path, hal.AccessToken, map[string]string{"userId": ivy.UserID}), http.StatusNoContent, nil)
	none() // already a member: nothing changed
	a.must(a.call("DELETE", path+"/"+hal.UserID, hal.AccessToken, nil), http.StatusNoContent, nil)
	// the one who left is named, so that route tells their devices too
	if d := conv(next(events.TypeConversationChanged)); d.Rev != 3 || !slices.Equal(d.Members, []string{ivy.UserID}) || !slices.Equal(d.Removed, []string{hal.UserID}) {
		t.Errorf("leave: %+v", d)
	}
	a.must(a.call("DELETE", "/v1/devices/"+ivy.DeviceID, ivy.AccessToken, nil), http.StatusNoContent, nil)
	if d := dev(next(events.TypeDeviceChanged)); d.User != ivy.UserID || d.Device != ivy.DeviceID || !d.Revoked {
		t.Errorf("revocation: %+v", d)
	}
	none()
}
