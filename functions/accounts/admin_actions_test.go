package function

import (
	"context"
	"encoding/base64"
	"net/http"
	"slices"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/redis/go-redis/v9"

	"github.com/agentchat/agentchat/sdk/e2ee"
	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/fn/fntest"
	"github.com/agentchat/agentchat/store/audit"
)

// lastOf is the newest event of typ the broker got (failing if none).
func lastOf(t *testing.T, b *fntest.Broker, typ string) event.Event {
	t.Helper()
	es := b.OfType(typ)
	if len(es) == 0 {
		t.Fatalf("no %s announced", typ)
	}
	return es[len(es)-1]
}

// auditOf is the audit log's entries for action, newest first.
func auditOf(a *accounts, root sessionResponse, action string) []audit.Entry {
	a.t.Helper()
	var page auditPage
	a.must(a.call("GET", "/v1/admin/audit?action="+action, root.AccessToken, nil), http.StatusOK, &page)
	return page.Entries
}

// TestAdminConversationMembers: an admin reads any conversation and adds
// or removes a group's members without being one; the change is stored
// and announced (conversation.changed) exactly as a member's own, each
// action is audited, and a non-admin is refused.
func TestAdminConversationMembers(t *testing.T) {
	broker := fntest.NewBroker(t)
	a, root := withAdmin(t, func(c *Config) { c.Sink = broker.URL })
	hal, ivy, bob := a.user("hal"), a.user("ivy"), a.user("bob")
	var g, d conversationView
	a.must(a.call("POST", "/v1/conversations", hal.AccessToken, map[string]any{"kind": "group", "members": []string{}, "title": "Plans"}), http.StatusCreated, &g)
	a.must(a.call("POST", "/v1/conversations", hal.AccessToken, map[string]any{"kind": "direct", "members": []string{ivy.UserID}}), http.StatusCreated, &d)
	path := "/v1/admin/conversations/" + g.ConversationID

	a.problemOf(a.call("GET", path, bob.AccessToken, nil), http.StatusForbidden)
	a.problemOf(a.call("POST", path+"/members", bob.AccessToken, map[string]string{"userId": bob.UserID}), http.StatusForbidden)
	a.problemOf(a.call("DELETE", path+"/members/"+hal.UserID, bob.AccessToken, nil), http.StatusForbidden)

	var got conversationView
	a.must(a.call("GET", path, root.AccessToken, nil), http.StatusOK, &got)
	if got.Kind != "group" || got.Title != "Plans" || !slices.Equal(got.Members, []string{hal.UserID}) {
		t.Errorf("admin get = %+v", got)
	}
	a.problemOf(a.call("GET", "/v1/admin/conversations/g-nothere", root.AccessToken, nil), http.StatusNotFound)

	a.must(a.call("POST", path+"/members", root.AccessToken, map[string]string{"userId": ivy.UserID}), http.StatusNoContent, nil)
	e := lastOf(t, broker, events.TypeConversationChanged)
	c, err := events.Decode[events.ConversationChanged](e)
	if err != nil || e.Subject() != g.ConversationID || c.Rev != 2 || !slices.Equal(c.Members, []string{hal.UserID, ivy.UserID}) || c.Removed != nil {
		t.Errorf("add announced %+v about %s (%v)", c, e.Subject(), err)
	}
	n := len(broker.OfType(events.TypeConversationChanged))
	a.must(a.call("POST", path+"/members", root.AccessToken, map[string]string{"userId": ivy.UserID}), http.StatusNoContent, nil)
	if len(broker.OfType(events.TypeConversationChanged)) != n {
		t.Error("adding a member again announced a change")
	}
	a.problemOf(a.call("POST", path+"/members", root.AccessToken, map[string]string{"userId": "u-nobody"}), http.StatusBadRequest)
	a.problemOf(a.call("POST", "/v1/admin/conversations/"+d.ConversationID+"/members", root.AccessToken, map[string]string{"userId": bob.UserID}), http.StatusConflict)
	a.problemOf(a.call("POST", "/v1/admin/conversations/g-nothere/members", root.AccessToken, map[string]string{"userId": bob.UserID}), http.StatusNotFound)

	a.must(a.call("DELETE", path+"/members/"+hal.UserID, root.AccessToken, nil), http.StatusNoContent, nil)
	e = lastOf(t, broker, events.TypeConversationChanged)
	if c, err := events.Decode[events.ConversationChanged](e); err != nil || c.Rev != 3 || !slices.Equal(c.Members, []string{ivy.UserID}) || !slices.Equal(c.Removed, []string{hal.UserID}) {
		t.Errorf("remove announced %+v (%v)", c, err)
	}
	// Stored as a member's change: hal no longer sees it, ivy does.
	a.problemOf(a.call("GET", "/v1/conversations/"+g.ConversationID, hal.AccessToken, nil), http.StatusNotFound)
	a.must(a.call("GET", "/v1/conversations/"+g.ConversationID, ivy.AccessToken, nil), http.StatusOK, nil)

	for action, want := range map[string][]int{
		"conversation.get":           {http.StatusNotFound, http.StatusOK, http.StatusForbidden},
		"conversation.member.add":    {http.StatusNotFound, http.StatusConflict, http.StatusBadRequest, http.StatusNoContent, http.StatusNoContent, http.StatusForbidden},
		"conversation.member.remove": {http.StatusNoContent, http.StatusForbidden},
	} {
		es := auditOf(a, root, action)
		if len(es) != len(want) {
			t.Errorf("%s: audit %+v, want %d entries", action, es, len(want))
			continue
		}
		for i, st := range want {
			if es[i].Status != st {
				t.Errorf("%s entry %d: status %d, want %d", action, i, es[i].Status, st)
			}
		}
		if last := es[len(es)-1]; last.Actor != bob.UserID || last.Outcome != audit.Denied || last.Target != g.ConversationID {
			t.Errorf("%s: bob's attempt audited as %+v", action, last)
		}
		if es[0].Actor != root.UserID {
			t.Errorf("%s: newest entry by %s", action, es[0].Actor)
		}
	}
}

// TestAdminAgents: an admin registers an agent for an owner (the owner's
// own path: the owner sees it as theirs) and rotates its key: the device
// gets the new key, its signing key is cleared (it bound the old key) or
// replaced by one bound to the new key, device.changed is announced, and
// each action is audited; a non-admin is refused.
func TestAdminAgents(t *testing.T) {
	broker := fntest.NewBroker(t)
	a, root := withAdmin(t, func(c *Config) { c.Sink = broker.URL })
	hal, bob := a.user("hal"), a.user("bob")
	k1 := newKey(t)
	body := map[string]string{"ownerId": hal.UserID, "name": "Helper", "agentKind": "model", "publicKey": k1, "agentId": "helper-1"}

	a.problemOf(a.call("POST", "/v1/admin/agents", bob.AccessToken, body), http.StatusForbidden)
	a.problemOf(a.call("PUT", "/v1/admin/agents/helper-1/key", bob.AccessToken, map[string]string{"publicKey": newKey(t)}), http.StatusForbidden)

	var reg struct{ AgentID, DeviceID string }
	a.must(a.call("POST", "/v1/admin/agents", root.AccessToken, body), http.StatusCreated, &reg)
	if reg.AgentID != "helper-1" {
		t.Fatalf("register = %+v", reg)
	}
	if dc, _ := events.Decode[events.DeviceChanged](lastOf(t, broker, events.TypeDeviceChanged)); dc.User != "helper-1" || dc.Device != reg.DeviceID || dc.PublicKey != k1 {
		t.Errorf("registration announced %+v", dc)
	}
	var list struct{ Agents []agentView }
	a.must(a.call("GET", "/v1/agents", bob.AccessToken, nil), http.StatusOK, &list)
	if len(list.Agents) != 1 || list.Agents[0].OwnerID != hal.UserID || list.Agents[0].PublicKey != k1 {
		t.Fatalf("agents = %+v, want helper-1 owned by hal", list.Agents)
	}
	a.problemOf(a.call("POST", "/v1/admin/agents", root.AccessToken, map[string]string{"ownerId": "u-nobody", "name": "X", "agentKind": "model", "publicKey": newKey(t)}), http.StatusBadRequest)
	a.problemOf(a.call("POST", "/v1/admin/agents", root.AccessToken, map[string]string{"ownerId": "helper-1", "name": "X", "agentKind": "model", "publicKey": newKey(t)}), http.StatusBadRequest)

	// The owner registers the agent's signing key, bound to k1.
	b64 := base64.StdEncoding.EncodeToString
	raw := func(k string) []byte { b, _ := base64.StdEncoding.DecodeString(k); return b }
	sk := func(x string) (*e2ee.SigningKey, map[string]string) {
		k, err := e2ee.GenerateSigningKey()
		if err != nil {
			t.Fatal(err)
		}
		return k, map[string]string{"signingKey": b64(k.PublicKeyBytes()), "binding": b64(e2ee.SignBinding(k, "helper-1", raw(x)))}
	}
	_, s1 := sk(k1)
	a.must(a.call("PUT", "/v1/devices/"+reg.DeviceID+"/signing-key", hal.AccessToken, s1), http.StatusOK, nil)

	keyPath := "/v1/admin/agents/helper-1/key"
	devices := func() []keyView {
		var out struct{ Devices []keyView }
		a.must(a.call("GET", "/v1/users/helper-1/devices", bob.AccessToken, nil), http.StatusOK, &out)
		return out.Devices
	}
	// Rotation alone: the new key, no signing key, announced.
	k2 := newKey(t)
	var kv keyView
	a.must(a.call("PUT", keyPath, root.AccessToken, map[string]string{"publicKey": k2}), http.StatusOK, &kv)
	if kv != (keyView{UserID: "helper-1", DeviceID: reg.DeviceID, PublicKey: k2}) {
		t.Errorf("rotation answered %+v", kv)
	}
	if ds := devices(); len(ds) != 1 || ds[0].PublicKey != k2 || ds[0].SigningKey != "" || ds[0].DeviceID != reg.DeviceID {
		t.Errorf("directory after rotation = %+v", ds)
	}
	if dc, _ := events.Decode[events.DeviceChanged](lastOf(t, broker, events.TypeDeviceChanged)); dc.Device != reg.DeviceID || dc.PublicKey != k2 || dc.SigningKey != "" || dc.Revoked {
		t.Errorf("rotation announced %+v", dc)
	}
	a.must(a.call("GET", "/v1/agents", bob.AccessToken, nil), http.StatusOK, &list)
	if list.Agents[0].PublicKey != k2 {
		t.Errorf("agent's key = %s, want the new one", list.Agents[0].PublicKey)
	}
	// The old key's binding no longer verifies; the owner registers a new one.
	a.problemOf(a.call("PUT", "/v1/devices/"+reg.DeviceID+"/signing-key", hal.AccessToken, s1), http.StatusBadRequest)
	_, s2 := sk(k2)
	a.must(a.call("PUT", "/v1/devices/"+reg.DeviceID+"/signing-key", hal.AccessToken, s2), http.StatusOK, nil)

	// Rotation with the new key's signing key in the same call; a binding
	// of another key is refused before anything changes.
	k3 := newKey(t)
	_, s3 := sk(k3)
	bad := map[string]string{"publicKey": k3, "signingKey": s2["signingKey"], "binding": s2["binding"]}
	if p := a.problemOf(a.call("PUT", keyPath, root.AccessToken, bad), http.StatusBadRequest); p.Code != codeBadBinding {
		t.Errorf("bad binding: %+v", p)
	}
	if ds := devices(); ds[0].PublicKey != k2 || ds[0].SigningKey != s2["signingKey"] {
		t.Errorf("a refused rotation changed the directory: %+v", ds)
	}
	s3["publicKey"] = k3
	a.must(a.call("PUT", keyPath, root.AccessToken, s3), http.StatusOK, &kv)
	if kv.PublicKey != k3 || kv.SigningKey != s3["signingKey"] {
		t.Errorf("rotation with a signing key answered %+v", kv)
	}
	if dc, _ := events.Decode[events.DeviceChanged](lastOf(t, broker, events.TypeDeviceChanged)); dc.PublicKey != k3 || dc.SigningKey != s3["signingKey"] {
		t.Errorf("rotation announced %+v", dc)
	}
	// The same key again (a retry) keeps the signing key bound to it.
	a.must(a.call("PUT", keyPath, root.AccessToken, map[string]string{"publicKey": k3}), http.StatusOK, &kv)
	if kv.SigningKey != s3["signingKey"] {
		t.Errorf("repeated rotation answered %+v", kv)
	}
	a.problemOf(a.call("PUT", "/v1/admin/agents/"+hal.UserID+"/key", root.AccessToken, map[string]string{"publicKey": newKey(t)}), http.StatusNotFound)
	a.problemOf(a.call("PUT", keyPath, root.AccessToken, map[string]string{"publicKey": "short"}), http.StatusBadRequest)

	if es := auditOf(a, root, "agent.register"); len(es) != 4 || es[3].Outcome != audit.Denied || es[2].Status != http.StatusCreated || es[2].Actor != root.UserID {
		t.Errorf("agent.register audit = %+v", es)
	}
	es := auditOf(a, root, "agent.rotate-key")
	if len(es) != 7 || es[6].Outcome != audit.Denied || es[6].Actor != bob.UserID || es[5].Status != http.StatusOK || es[5].Target != "helper-1" {
		t.Errorf("agent.rotate-key audit = %+v", es)
	}
}

// TestAdminDeletesUser: deleting a user cuts it off (tokens, refresh and
// login refused, the connectors' mark set), revokes every device
// (announced), takes it out of every group (announced as a removal),
// keeps its direct conversations and its record, and can be repeated;
// audited, admins only.
func TestAdminDeletesUser(t *testing.T) {
	broker := fntest.NewBroker(t)
	a, root := withAdmin(t, func(c *Config) { c.Sink = broker.URL })
	hal, ivy, bob := a.user("hal"), a.user("ivy"), a.user("bob")
	hal2 := a.login("hal")
	var g, d conversationView
	a.must(a.call("POST", "/v1/conversations", hal.AccessToken, map[string]any{"kind": "group", "members": []string{ivy.UserID, bob.UserID}, "title": "Plans"}), http.StatusCreated, &g)
	a.must(a.call("POST", "/v1/conversations", hal.AccessToken, map[string]any{"kind": "direct", "members": []string{ivy.UserID}}), http.StatusCreated, &d)
	path := "/v1/admin/users/" + hal.UserID

	a.problemOf(a.call("DELETE", path, bob.AccessToken, nil), http.StatusForbidden)
	a.problemOf(a.call("DELETE", "/v1/admin/users/"+root.UserID, root.AccessToken, nil), http.StatusConflict)
	a.problemOf(a.call("DELETE", "/v1/admin/users/u-nobody", root.AccessToken, nil), http.StatusNotFound)

	var u adminUserView
	a.must(a.call("DELETE", path, root.AccessToken, nil), http.StatusOK, &u)
	if u.UserID != hal.UserID || u.DeletedAt == nil || u.SuspendedAt == nil {
		t.Fatalf("delete answered %+v", u)
	}

	// Every device revoked and announced; nobody finds a key of hal's.
	revoked := map[string]bool{}
	for _, e := range broker.OfType(events.TypeDeviceChanged) {
		if dc, _ := events.Decode[events.DeviceChanged](e); dc.User == hal.UserID && dc.Revoked {
			revoked[dc.Device] = true
		}
	}
	if !revoked[hal.DeviceID] || !revoked[hal2.DeviceID] {
		t.Errorf("revocations announced for %v, want both of hal's devices", revoked)
	}
	var keys struct{ Devices []keyView }
	a.must(a.call("GET", "/v1/users/"+hal.UserID+"/devices", ivy.AccessToken, nil), http.StatusOK, &keys)
	if len(keys.Devices) != 0 {
		t.Errorf("hal's key directory = %+v, want empty", keys.Devices)
	}
	// Out of the group, announced as a removal; the direct conversation stays.
	e := lastOf(t, broker, events.TypeConversationChanged)
	if c, err := events.Decode[events.ConversationChanged](e); err != nil || e.Subject() != g.ConversationID ||
		!slices.Equal(c.Members, []string{ivy.UserID, bob.UserID}) || !slices.Equal(c.Removed, []string{hal.UserID}) {
		t.Errorf("group change announced %+v about %s (%v)", c, e.Subject(), err)
	}
	var got conversationView
	a.must(a.call("GET", "/v1/conversations/"+d.ConversationID, ivy.AccessToken, nil), http.StatusOK, &got)
	if !slices.Contains(got.Members, hal.UserID) {
		t.Errorf("direct conversation = %+v, want it kept", got)
	}

	// Cut off: tokens, refresh, login; the connectors' mark is set.
	a.problemOf(a.call("GET", "/v1/conversations", hal2.AccessToken, nil), http.StatusUnauthorized) // its device is revoked
	if r := a.call("POST", "/v1/token/refresh", "", map[string]string{"refreshToken": hal.RefreshToken}); r.status != http.StatusUnauthorized && r.status != http.StatusForbidden {
		t.Errorf("refresh: status %d (%s), want it refused", r.status, r.body)
	}
	a.problemOf(a.call("POST", "/v1/login", "", map[string]string{"username": "hal", "password": "password-hal", "deviceId": hal.DeviceID}), http.StatusUnauthorized)
	rdbOpt, err := redis.ParseURL(a.cfg.RedisURL)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(rdbOpt)
	defer rdb.Close()
	if n := rdb.Exists(context.Background(), events.SuspendedKey(a.cfg.RedisPrefix, hal.UserID)).Val(); n != 1 {
		t.Error("no suspension mark for the connectors")
	}

	// Repeating finishes or confirms it; it cannot be undone by unsuspending.
	var again adminUserView
	a.must(a.call("DELETE", path, root.AccessToken, nil), http.StatusOK, &again)
	if again.DeletedAt == nil || !again.DeletedAt.Equal(*u.DeletedAt) {
		t.Errorf("again: deletedAt %v, want the first %v", again.DeletedAt, u.DeletedAt)
	}
	a.problemOf(a.call("POST", path+"/unsuspend", root.AccessToken, nil), http.StatusConflict)

	es := auditOf(a, root, "user.delete")
	want := []int{http.StatusOK, http.StatusOK, http.StatusNotFound, http.StatusConflict, http.StatusForbidden}
	if len(es) != len(want) {
		t.Fatalf("user.delete audit = %+v", es)
	}
	for i, st := range want {
		if es[i].Status != st {
			t.Errorf("entry %d: status %d, want %d", i, es[i].Status, st)
		}
	}
	if es[4].Outcome != audit.Denied || es[4].Actor != bob.UserID || es[0].Target != hal.UserID {
		t.Errorf("user.delete audit = %+v", es)
	}
}
