package function

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
)

func TestDirectConversationIdempotent(t *testing.T) {
	t.Parallel()
	a := startAccounts(t, nil)
	ann, ben := a.user("ann"), a.user("ben")
	var first, again, fromBen conversationView
	body := map[string]any{"kind": "direct", "members": []string{ben.UserID}}
	a.must(a.call("POST", "/v1/conversations", ann.AccessToken, body), http.StatusCreated, &first)
	a.must(a.call("POST", "/v1/conversations", ann.AccessToken, body), http.StatusOK, &again)
	a.must(a.call("POST", "/v1/conversations", ben.AccessToken, map[string]any{"kind": "direct", "members": []string{ann.UserID}}), http.StatusOK, &fromBen)
	if again.ConversationID != first.ConversationID || fromBen.ConversationID != first.ConversationID {
		t.Errorf("ids %s, %s, %s: the pair's direct conversation must be one", first.ConversationID, again.ConversationID, fromBen.ConversationID)
	}
	if want := []string{ann.UserID, ben.UserID}; !slices.Equal(first.Members, slices.Sorted(slices.Values(want))) || first.Kind != "direct" {
		t.Errorf("conversation = %+v", first)
	}
	// Exactly two distinct members; members must exist; direct is fixed.
	for _, members := range [][]string{{}, {ann.UserID}, {ben.UserID, "u-third"}} {
		a.call("POST", "/v1/conversations", ann.AccessToken, map[string]any{"kind": "direct", "members": members}).problem(t, http.StatusBadRequest)
	}
	a.call("POST", "/v1/conversations/"+first.ConversationID+"/members", ann.AccessToken, map[string]string{"userId": ben.UserID}).problem(t, http.StatusConflict)
	a.call("DELETE", "/v1/conversations/"+first.ConversationID+"/members/"+ben.UserID, ann.AccessToken, nil).problem(t, http.StatusConflict)
}

func TestGroupConversation(t *testing.T) {
	t.Parallel()
	a := startAccounts(t, nil)
	cat, dan, eve, mallory := a.user("cat"), a.user("dan"), a.user("eve"), a.user("mallory")
	var g conversationView
	a.must(a.call("POST", "/v1/conversations", cat.AccessToken, map[string]any{"kind": "group", "members": []string{dan.UserID}, "title": " Book club "}), http.StatusCreated, &g)
	if g.Kind != "group" || g.Title != "Book club" || g.CreatedBy != cat.UserID || !slices.Equal(g.Members, []string{cat.UserID, dan.UserID}) {
		t.Fatalf("group = %+v", g)
	}
	path := "/v1/conversations/" + g.ConversationID

	// Outsiders see nothing and change nothing.
	a.call("GET", path, mallory.AccessToken, nil).problem(t, http.StatusNotFound)
	a.call("GET", path+"/devices", mallory.AccessToken, nil).problem(t, http.StatusNotFound)
	a.call("POST", path+"/members", mallory.AccessToken, map[string]string{"userId": mallory.UserID}).problem(t, http.StatusNotFound)
	a.call("DELETE", path+"/members/"+dan.UserID, mallory.AccessToken, nil).problem(t, http.StatusNotFound)
	a.call("GET", "/v1/conversations/g-unknown", cat.AccessToken, nil).problem(t, http.StatusNotFound)

	// Only an admin (the creator, cat) adds (twice: no-op) and removes.
	if !slices.Equal(g.Admins, []string{cat.UserID}) {
		t.Errorf("admins at creation = %v, want the creator", g.Admins)
	}
	a.call("POST", path+"/members", dan.AccessToken, map[string]string{"userId": eve.UserID}).problem(t, http.StatusForbidden)
	a.must(a.call("POST", path+"/members", cat.AccessToken, map[string]string{"userId": eve.UserID}), http.StatusNoContent, nil)
	a.must(a.call("POST", path+"/members", cat.AccessToken, map[string]string{"userId": eve.UserID}), http.StatusNoContent, nil)
	if p := a.call("POST", path+"/members", cat.AccessToken, map[string]string{"userId": "u-ghost"}).problem(t, http.StatusBadRequest); !strings.HasPrefix(p.Detail, "userId:") {
		t.Errorf("unknown user detail %q", p.Detail)
	}
	var got conversationView
	a.must(a.call("GET", path, eve.AccessToken, nil), http.StatusOK, &got)
	if !slices.Equal(got.Members, []string{cat.UserID, dan.UserID, eve.UserID}) {
		t.Errorf("members after add = %v", got.Members)
	}
	a.must(a.call("DELETE", path+"/members/"+dan.UserID, cat.AccessToken, nil), http.StatusNoContent, nil)
	a.must(a.call("DELETE", path+"/members/"+dan.UserID, cat.AccessToken, nil), http.StatusNoContent, nil)
	a.call("GET", path, dan.AccessToken, nil).problem(t, http.StatusNotFound)

	// Lists: mine only, most recently changed first.
	var other conversationView
	a.must(a.call("POST", "/v1/conversations", eve.AccessToken, map[string]any{"kind": "group", "members": []string{}}), http.StatusCreated, &other)
	var list struct{ Conversations []conversationView }
	a.must(a.call("GET", "/v1/conversations", eve.AccessToken, nil), http.StatusOK, &list)
	var ids []string
	for _, c := range list.Conversations {
		ids = append(ids, c.ConversationID)
	}
	if !slices.Equal(ids, []string{other.ConversationID, g.ConversationID}) {
		t.Errorf("eve's conversations = %v, want %v", ids, []string{other.ConversationID, g.ConversationID})
	}
	a.must(a.call("GET", "/v1/conversations", dan.AccessToken, nil), http.StatusOK, &list)
	if len(list.Conversations) != 0 {
		t.Errorf("dan (removed) still lists %d conversations", len(list.Conversations))
	}

	// A client-chosen group id makes creation idempotent for its creator.
	body := map[string]any{"kind": "group", "members": []string{eve.UserID}, "conversationId": "g-club-2"}
	a.must(a.call("POST", "/v1/conversations", cat.AccessToken, body), http.StatusCreated, nil)
	a.must(a.call("POST", "/v1/conversations", cat.AccessToken, body), http.StatusOK, nil)
	a.call("POST", "/v1/conversations", eve.AccessToken, body).problem(t, http.StatusConflict)

	// Limits and kinds.
	a.call("POST", "/v1/conversations", cat.AccessToken, map[string]any{"kind": "channel", "members": []string{}}).problem(t, http.StatusBadRequest)
	many := make([]string, 1024)
	for i := range many {
		many[i] = fmt.Sprintf("u-%04d", i)
	}
	if p := a.call("POST", "/v1/conversations", cat.AccessToken, map[string]any{"kind": "group", "members": many}).problem(t, http.StatusBadRequest); !strings.Contains(p.Detail, "at most 1024") {
		t.Errorf("1,025 members: detail %q", p.Detail)
	}
}

// TestConversationDevices: the key directory holds every current device of
// every member, and no revoked one — also right after a read that filled
// accounts' cache of it (DEVICE_CACHE_TTL): a device registered or revoked
// since shows at once; agents' devices are marked.
func TestConversationDevices(t *testing.T) {
	t.Parallel()
	a := startAccounts(t, nil)
	fay, gus := a.user("fay"), a.user("gus")
	gus2 := a.login("gus")
	var bot struct{ AgentID, DeviceID string }
	a.must(a.call("POST", "/v1/agents", fay.AccessToken, map[string]string{"name": "Bot", "agentKind": "model", "publicKey": newKey(t)}), http.StatusCreated, &bot)
	var g conversationView
	a.must(a.call("POST", "/v1/conversations", fay.AccessToken, map[string]any{"kind": "group", "members": []string{gus.UserID, bot.AgentID}}), http.StatusCreated, &g)

	var dir struct{ Devices []keyView }
	a.must(a.call("GET", "/v1/conversations/"+g.ConversationID+"/devices", gus.AccessToken, nil), http.StatusOK, &dir)
	if len(dir.Devices) != 4 {
		t.Fatalf("directory before the changes: %d devices, want 4 (fay, gus, gus2, bot)", len(dir.Devices))
	}
	a.must(a.call("DELETE", "/v1/devices/"+gus2.DeviceID, gus.AccessToken, nil), http.StatusNoContent, nil)
	fay2 := a.login("fay")

	dir.Devices = nil
	a.must(a.call("GET", "/v1/conversations/"+g.ConversationID+"/devices", gus.AccessToken, nil), http.StatusOK, &dir)
	got := map[string]string{}
	for _, d := range dir.Devices {
		got[d.DeviceID] = d.UserID
		if d.Agent != (d.UserID == bot.AgentID) { // a group message's key is wrapped for agent devices (sender keys)
			t.Errorf("device %s of %s: agent %v", d.DeviceID, d.UserID, d.Agent)
		}
		if len(d.PublicKey) != 44 {
			t.Errorf("device %s public key %q is not base64 of 32 bytes", d.DeviceID, d.PublicKey)
		}
	}
	want := map[string]string{fay.DeviceID: fay.UserID, fay2.DeviceID: fay.UserID, gus.DeviceID: gus.UserID, bot.DeviceID: bot.AgentID}
	if len(got) != len(want) || len(dir.Devices) != len(want) {
		t.Fatalf("directory = %v, want %v", got, want)
	}
	for d, u := range want {
		if got[d] != u {
			t.Errorf("directory = %v, want %v", got, want)
		}
	}
}
