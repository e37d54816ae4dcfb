package function

import (
	"net/http"
	"testing"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/fn/fntest"
)

// TestPresenceSetting: a user reads and sets who may see their presence;
// a bad value is refused; each setting is announced (presence.changed,
// cause visibility, about the user and the device that set it) before
// the answer, so watchers are told at once.
func TestPresenceSetting(t *testing.T) {
	t.Parallel()
	broker := fntest.NewBroker(t)
	a := startAccounts(t, func(c *Config) { c.Sink = broker.URL })
	kim := a.user("kim")
	var got presenceSetting
	a.must(a.call("GET", "/v1/me/presence", kim.AccessToken, nil), http.StatusOK, &got)
	if got.Visibility != events.DefaultVisibility {
		t.Errorf("default visibility = %q, want %q", got.Visibility, events.DefaultVisibility)
	}
	before := len(broker.Events())
	a.must(a.call("PUT", "/v1/me/presence", kim.AccessToken, map[string]string{"visibility": "nobody"}), http.StatusOK, &got)
	if got.Visibility != "nobody" {
		t.Errorf("PUT answered %q", got.Visibility)
	}
	evs := broker.Events()
	if len(evs) != before+1 {
		t.Fatalf("%d events announced, want 1", len(evs)-before)
	}
	e := evs[before]
	d, err := events.Decode[events.PresenceChanged](e)
	if err != nil || d.Cause != events.PresenceVisibility || e.Extensions()[events.ExtSenderID] != kim.UserID ||
		e.Extensions()[events.ExtDeviceID] != kim.DeviceID || e.Source() != events.SourceAccounts {
		t.Errorf("announced %s %+v (%v) from %s", e.Type(), d, err, e.Source())
	}
	a.must(a.call("GET", "/v1/me/presence", kim.AccessToken, nil), http.StatusOK, &got)
	if got.Visibility != "nobody" {
		t.Errorf("after PUT nobody: %q", got.Visibility)
	}
	a.call("PUT", "/v1/me/presence", kim.AccessToken, map[string]string{"visibility": "friends"}).problem(t, http.StatusBadRequest)
	a.call("PUT", "/v1/me/presence", "", map[string]string{"visibility": "nobody"}).problem(t, http.StatusUnauthorized)
	if n := len(broker.Events()); n != before+1 {
		t.Errorf("refused requests announced %d events", n-before-1)
	}
}
