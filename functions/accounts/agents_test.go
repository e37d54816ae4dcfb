package function

import (
	"net/http"
	"strings"
	"testing"
)

func TestAgents(t *testing.T) {
	t.Parallel()
	a := startAccounts(t, nil)
	owner, other := a.user("olga"), a.user("otto")
	key := newKey(t)
	body := map[string]string{"name": "Helper", "agentKind": "model", "publicKey": key, "agentId": "helper-1"}
	var reg, again struct{ AgentID, DeviceID string }
	a.must(a.call("POST", "/v1/agents", owner.AccessToken, body), http.StatusCreated, &reg)
	a.must(a.call("POST", "/v1/agents", owner.AccessToken, body), http.StatusOK, &again)
	if reg.AgentID != "helper-1" || !validID(reg.DeviceID) || again != reg {
		t.Errorf("register = %+v, again = %+v", reg, again)
	}
	a.call("POST", "/v1/agents", other.AccessToken, body).problem(t, http.StatusConflict)
	a.call("POST", "/v1/agents", owner.AccessToken, map[string]string{"name": "Helper", "agentKind": "model", "publicKey": newKey(t), "agentId": "helper-1"}).problem(t, http.StatusConflict)
	a.call("POST", "/v1/agents", owner.AccessToken, map[string]string{"name": "X", "agentKind": "model", "publicKey": newKey(t), "agentId": owner.UserID}).problem(t, http.StatusBadRequest)
	for _, bad := range []map[string]string{
		{"name": "", "agentKind": "model", "publicKey": key},
		{"name": "A", "agentKind": "Model!", "publicKey": key},
		{"name": "A", "agentKind": "model", "publicKey": "short"},
	} {
		a.call("POST", "/v1/agents", owner.AccessToken, bad).problem(t, http.StatusBadRequest)
	}
	var generated struct{ AgentID, DeviceID string }
	a.must(a.call("POST", "/v1/agents", other.AccessToken, map[string]string{"name": "Poet", "agentKind": "model", "publicKey": newKey(t)}), http.StatusCreated, &generated)

	var list struct{ Agents []agentView }
	a.must(a.call("GET", "/v1/agents", other.AccessToken, nil), http.StatusOK, &list)
	if len(list.Agents) != 2 {
		t.Fatalf("agents = %+v, want 2", list.Agents)
	}
	if got, want := list.Agents[0], (agentView{AgentID: "helper-1", Name: "Helper", AgentKind: "model", PublicKey: key, DeviceID: reg.DeviceID, OwnerID: owner.UserID}); got != want {
		t.Errorf("agent = %+v, want %+v", got, want)
	}

	// An agent is a user: its key directory, a direct conversation with it,
	// and the conversation's directory include its device.
	var keys struct{ Devices []keyView }
	a.must(a.call("GET", "/v1/users/helper-1/devices", other.AccessToken, nil), http.StatusOK, &keys)
	if len(keys.Devices) != 1 || keys.Devices[0].DeviceID != reg.DeviceID || keys.Devices[0].PublicKey != key {
		t.Errorf("agent key directory = %+v", keys.Devices)
	}
	var u userView
	a.must(a.call("GET", "/v1/users/helper-1", other.AccessToken, nil), http.StatusOK, &u)
	if u.Kind != "agent" || u.AgentKind != "model" {
		t.Errorf("agent user = %+v", u)
	}
	var c conversationView
	a.must(a.call("POST", "/v1/conversations", other.AccessToken, map[string]any{"kind": "direct", "members": []string{"helper-1"}}), http.StatusCreated, &c)
	var dir struct{ Devices []keyView }
	a.must(a.call("GET", "/v1/conversations/"+c.ConversationID+"/devices", other.AccessToken, nil), http.StatusOK, &dir)
	if len(dir.Devices) != 2 {
		t.Errorf("directory of a chat with an agent = %+v, want otto's and the agent's device", dir.Devices)
	}
}

func TestUsers(t *testing.T) {
	t.Parallel()
	a := startAccounts(t, nil)
	pia := a.user("pia")
	var u userView
	a.must(a.call("GET", "/v1/users?username=PIA", pia.AccessToken, nil), http.StatusOK, &u)
	if u.UserID != pia.UserID || u.Username != "pia" || u.Kind != "user" || u.Name != "pia" {
		t.Errorf("user = %+v", u)
	}
	a.must(a.call("GET", "/v1/users/me", pia.AccessToken, nil), http.StatusOK, &u)
	if u.UserID != pia.UserID {
		t.Errorf("me = %+v", u)
	}
	a.call("GET", "/v1/users?username=nobody", pia.AccessToken, nil).problem(t, http.StatusNotFound)
	a.call("GET", "/v1/users", pia.AccessToken, nil).problem(t, http.StatusBadRequest)
	a.call("GET", "/v1/users/u-nobody/devices", pia.AccessToken, nil).problem(t, http.StatusNotFound)
	if r := a.call("GET", "/v1/users/me", "", nil); r.status != http.StatusUnauthorized {
		t.Errorf("unauthenticated lookup: %d", r.status)
	}
	if r := a.call("GET", "/v1/users/me", pia.AccessToken, nil); strings.Contains(string(r.body), "passwordHash") || strings.Contains(string(r.body), "argon2") {
		t.Errorf("user view leaks the password hash: %s", r.body)
	}
}
