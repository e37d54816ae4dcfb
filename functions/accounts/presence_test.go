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

// TestPresenceSettingIsRateLimited: each change makes route tell every
// online watcher, so one user may change it presenceChangeRate.Limit
// times a window; the next is refused (429, Retry-After), not stored and
// not announced, and reading the setting stays free.
func TestPresenceSettingIsRateLimited(t *testing.T) {
	t.Parallel()
	broker := fntest.NewBroker(t)
	a := startAccounts(t, func(c *Config) { c.Sink = broker.URL })
	lee, other := a.user("lee"), a.user("lee2")
	vis := []string{events.VisibleNobody, events.VisibleEveryone}
	for i := range presenceChangeRate.Limit {
		a.must(a.call("PUT", "/v1/me/presence", lee.AccessToken, map[string]string{"visibility": vis[i%2]}), http.StatusOK, nil)
	}
	before := len(broker.Events())
	last := vis[(presenceChangeRate.Limit-1)%2]
	resp := a.call("PUT", "/v1/me/presence", lee.AccessToken, map[string]string{"visibility": events.VisibleContacts})
	resp.problem(t, http.StatusTooManyRequests)
	if resp.header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	if n := len(broker.Events()); n != before {
		t.Errorf("a refused change announced %d events", n-before)
	}
	var got presenceSetting
	a.must(a.call("GET", "/v1/me/presence", lee.AccessToken, nil), http.StatusOK, &got)
	if got.Visibility != last {
		t.Errorf("after a refused change: %q, want %q", got.Visibility, last)
	}
	a.must(a.call("PUT", "/v1/me/presence", other.AccessToken, map[string]string{"visibility": events.VisibleNobody}), http.StatusOK, nil)
}
