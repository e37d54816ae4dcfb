package function

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/agentchat/agentchat/store/directory"
)

// TestLargeGroups: groups of 200 and 1,024 members (the most a message's
// wrapped keys can address) are created, changed and listed through the
// API on the test MongoDB stand-in (FerretDB on PostgreSQL refused about
// 100 members while the member array was one index key). The members are
// written into the directory directly, with one device each: sign-up's
// password hashing and limits are not what is under test.
func TestLargeGroups(t *testing.T) {
	for _, n := range []int{200, 1024} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			t.Parallel()
			testLargeGroup(t, n)
		})
	}
}

func testLargeGroup(t *testing.T, n int) {
	a := startAccounts(t, nil)
	owner := a.user("owner")
	svc := a.f.svc.Load()
	ctx := context.Background()
	members := make([]string, n-1) // and the owner
	for i := range members {
		id := newID("u-") // incompressible, like every id: an index over them would exceed PostgreSQL's key limit
		members[i] = id
		if err := svc.dir.InsertUser(ctx, directory.User{ID: id, Kind: directory.KindUser, Username: fmt.Sprintf("m%04d", i), Name: id, CreatedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
		if err := svc.dir.InsertDevice(ctx, directory.Device{ID: "dv-" + id[2:], User: id, PublicKey: newKey(t), CreatedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	token := func(user string) string {
		tok, _, err := svc.signer.Issue(user, "dv-"+user[2:])
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	listed := func(user, conv string) bool {
		t.Helper()
		var list struct{ Conversations []conversationView }
		a.must(a.call("GET", "/v1/conversations", token(user), nil), http.StatusOK, &list)
		return slices.ContainsFunc(list.Conversations, func(c conversationView) bool { return c.ConversationID == conv })
	}

	var g conversationView
	a.must(a.call("POST", "/v1/conversations", owner.AccessToken, map[string]any{"kind": "group", "title": "big", "members": members}), http.StatusCreated, &g)
	if len(g.Members) != n {
		t.Fatalf("created with %d members, want %d", len(g.Members), n)
	}
	for _, u := range []string{members[0], members[n/2], members[n-2]} {
		if !listed(u, g.ConversationID) {
			t.Errorf("member %s does not list the group", u)
		}
	}
	var dir struct{ Devices []keyView }
	a.must(a.call("GET", "/v1/conversations/"+g.ConversationID+"/devices", token(members[1]), nil), http.StatusOK, &dir)
	if len(dir.Devices) != n {
		t.Errorf("key directory: %d devices, want %d (one each)", len(dir.Devices), n)
	}

	// Changed: a member leaves, another is removed by the owner, one is
	// added back; at 1,024 the group is full.
	path := "/v1/conversations/" + g.ConversationID
	gone, removed := members[3], members[4]
	a.must(a.call("DELETE", path+"/members/"+gone, token(gone), nil), http.StatusNoContent, nil)
	a.must(a.call("DELETE", path+"/members/"+removed, owner.AccessToken, nil), http.StatusNoContent, nil)
	a.call("GET", path, token(removed), nil).problem(t, http.StatusNotFound)
	if listed(gone, g.ConversationID) || listed(removed, g.ConversationID) {
		t.Error("a member who left or was removed still lists the group")
	}
	a.call("POST", path+"/members", token(members[5]), map[string]string{"userId": removed}).problem(t, http.StatusForbidden) // not an admin
	a.must(a.call("POST", path+"/members", owner.AccessToken, map[string]string{"userId": removed}), http.StatusNoContent, nil)
	if !listed(removed, g.ConversationID) {
		t.Error("a member added back does not list the group")
	}
	a.must(a.call("POST", path+"/members", owner.AccessToken, map[string]string{"userId": gone}), http.StatusNoContent, nil)
	if n == maxGroupMembers {
		a.must(a.call("POST", path+"/members", owner.AccessToken, map[string]string{"userId": owner.UserID}), http.StatusNoContent, nil) // already a member: no change
		extra := a.user("extra")
		a.call("POST", path+"/members", owner.AccessToken, map[string]string{"userId": extra.UserID}).problem(t, http.StatusConflict)
	}
	var got conversationView
	a.must(a.call("GET", path, owner.AccessToken, nil), http.StatusOK, &got)
	if len(got.Members) != n || !slices.Contains(got.Members, gone) || !slices.Contains(got.Members, removed) {
		t.Errorf("after the changes: %d members (gone back: %v, removed back: %v), want %d",
			len(got.Members), slices.Contains(got.Members, gone), slices.Contains(got.Members, removed), n)
	}
	m, err := svc.dir.Members(ctx, g.ConversationID)
	if err != nil || m.Rev != 5 {
		t.Errorf("directory: rev %d, %v; want 5 (created, then four changes)", m.Rev, err)
	}
}
