package function

import (
	"net/http"
	"slices"
	"testing"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/fn/fntest"
	"github.com/agentchat/agentchat/sdk/protocol"
)

// TestGroupAdmins: only admins add, remove and make admins; anyone
// leaves; a group keeps an admin — the last one cannot be demoted, and
// when it leaves the longest-standing person left (not an agent) becomes
// one in the same change. Every change is announced with what it changed
// (the entry persist stores).
func TestGroupAdmins(t *testing.T) {
	t.Parallel()
	broker := fntest.NewBroker(t)
	a := startAccounts(t, func(c *Config) { c.Sink = broker.URL })
	ann, ben, cy, dee := a.user("ann"), a.user("ben"), a.user("cyd"), a.user("dee")
	var bot struct {
		AgentID string `json:"agentId"`
	}
	a.must(a.call("POST", "/v1/agents", ann.AccessToken, map[string]string{"name": "Bot", "agentKind": "model", "publicKey": newKey(t)}), http.StatusCreated, &bot)
	var g conversationView
	a.must(a.call("POST", "/v1/conversations", ann.AccessToken, map[string]any{"kind": "group", "members": []string{bot.AgentID, ben.UserID}, "title": "Team"}), http.StatusCreated, &g)
	path := "/v1/conversations/" + g.ConversationID
	lastChange := func() events.ConversationChanged {
		t.Helper()
		got := broker.Events()
		d, err := events.Decode[events.ConversationChanged](got[len(got)-1])
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	view := func() conversationView {
		t.Helper()
		var v conversationView
		a.must(a.call("GET", path, ann.AccessToken, nil), http.StatusOK, &v)
		return v
	}

	// ben is no admin: he adds, removes and promotes nobody
	a.call("POST", path+"/members", ben.AccessToken, map[string]string{"userId": cy.UserID}).problem(t, http.StatusForbidden)
	a.call("DELETE", path+"/members/"+ann.UserID, ben.AccessToken, nil).problem(t, http.StatusForbidden)
	a.call("POST", path+"/admins", ben.AccessToken, map[string]string{"userId": ben.UserID}).problem(t, http.StatusForbidden)
	a.call("POST", path+"/admins", dee.AccessToken, map[string]string{"userId": dee.UserID}).problem(t, http.StatusNotFound) // not a member
	a.call("POST", path+"/admins", ann.AccessToken, map[string]string{"userId": dee.UserID}).problem(t, http.StatusBadRequest)

	// ann adds cy, makes ben an admin; ben adds dee
	a.must(a.call("POST", path+"/members", ann.AccessToken, map[string]string{"userId": cy.UserID}), http.StatusNoContent, nil)
	if d := lastChange(); d.Change == nil || *d.Change != (protocol.MemberChange{Op: protocol.MemberAdd, User: cy.UserID, By: ann.UserID, Rev: 2}) {
		t.Errorf("add's change = %+v", d.Change)
	}
	a.must(a.call("POST", path+"/admins", ann.AccessToken, map[string]string{"userId": ben.UserID}), http.StatusNoContent, nil)
	if d := lastChange(); d.Change == nil || d.Change.Op != protocol.MemberAdmin || d.Change.User != ben.UserID || !slices.Equal(d.Admins, []string{ann.UserID, ben.UserID}) {
		t.Errorf("promotion: change %+v, admins %v", d.Change, d.Admins)
	}
	n := len(broker.Events())
	a.must(a.call("POST", path+"/admins", ann.AccessToken, map[string]string{"userId": ben.UserID}), http.StatusNoContent, nil)
	if len(broker.Events()) != n {
		t.Error("promoting an admin again announced a change")
	}
	a.must(a.call("POST", path+"/members", ben.AccessToken, map[string]string{"userId": dee.UserID}), http.StatusNoContent, nil)

	// ben steps down; ann is then the last admin and cannot
	a.must(a.call("DELETE", path+"/admins/"+ben.UserID, ben.AccessToken, nil), http.StatusNoContent, nil)
	if v := view(); !slices.Equal(v.Admins, []string{ann.UserID}) {
		t.Errorf("admins after ben stepped down = %v", v.Admins)
	}
	a.call("DELETE", path+"/admins/"+ann.UserID, ann.AccessToken, nil).problem(t, http.StatusConflict)

	// anyone leaves: cy, no admin
	a.must(a.call("DELETE", path+"/members/"+cy.UserID, cy.AccessToken, nil), http.StatusNoContent, nil)
	if d := lastChange(); d.Change == nil || d.Change.Op != protocol.MemberLeave || d.Change.By != cy.UserID || !slices.Equal(d.Removed, []string{cy.UserID}) {
		t.Errorf("leave's change = %+v, removed %v", d.Change, d.Removed)
	}
	// ann, the last admin, leaves: ben (the longest-standing person; the
	// bot joined before him but is an agent) becomes one in that change
	a.must(a.call("DELETE", path+"/members/"+ann.UserID, ann.AccessToken, nil), http.StatusNoContent, nil)
	d := lastChange()
	if d.Change == nil || d.Change.Op != protocol.MemberLeave || d.Change.Promoted != ben.UserID || !slices.Equal(d.Admins, []string{ben.UserID}) {
		t.Errorf("the last admin's leave: change %+v, admins %v; want ben promoted", d.Change, d.Admins)
	}
	if !slices.Equal(d.Members, []string{bot.AgentID, ben.UserID, dee.UserID}) {
		t.Errorf("members = %v", d.Members)
	}
	// ben, now admin, removes dee
	a.must(a.call("DELETE", path+"/members/"+dee.UserID, ben.AccessToken, nil), http.StatusNoContent, nil)
	if d := lastChange(); d.Change == nil || d.Change.Op != protocol.MemberRemove || d.Change.By != ben.UserID || d.Change.User != dee.UserID {
		t.Errorf("removal's change = %+v", d.Change)
	}
	for i, e := range broker.Events() {
		if err := events.Validate(e); err != nil {
			t.Errorf("event %d: %v", i, err)
		}
	}
}
