package function

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/fn/fntest"
	"github.com/agentchat/agentchat/store/audit"
)

// withAdmin starts accounts, signs up an admin and restarts accounts with
// that user in ACCOUNTS_ADMINS (ids are server-made: the operator's order
// too). It returns the admin's session; edit, if given, configures both starts.
func withAdmin(t *testing.T, edit ...func(*Config)) (*accounts, sessionResponse) {
	t.Helper()
	fntest.Need(t, "AGENTCHAT_TEST_REDIS_URL")
	var e func(*Config)
	if len(edit) > 0 {
		e = edit[0]
	}
	a := startAccounts(t, e)
	root := a.user("root")
	c := a.cfg
	c.Admins = userIDs{root.UserID}
	if err := a.f.start(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	a.cfg = c
	return a, root
}

type auditPage struct {
	Entries []audit.Entry `json:"entries"`
	Next    string        `json:"next"`
}

func TestAdminIsAuthenticatedAuthorizedAndAudited(t *testing.T) {
	a, root := withAdmin(t)
	bob := a.user("bob")

	a.problemOf(a.call("GET", "/v1/admin/users", "", nil), http.StatusUnauthorized)
	p := a.problemOf(a.call("POST", "/v1/admin/users/"+root.UserID+"/suspend", bob.AccessToken, nil), http.StatusForbidden)
	if p.Detail != "this needs the admin role" {
		t.Errorf("detail %q", p.Detail)
	}

	var users struct {
		Users []adminUserView `json:"users"`
		Next  string          `json:"next"`
	}
	a.must(a.call("GET", "/v1/admin/users?limit=1", root.AccessToken, nil), http.StatusOK, &users)
	if len(users.Users) != 1 || users.Next == "" {
		t.Fatalf("first page = %+v, want one user and a next", users)
	}
	first, after := users.Users[0], users.Next
	users.Next = ""
	a.must(a.call("GET", "/v1/admin/users?limit=5&after="+after, root.AccessToken, nil), http.StatusOK, &users)
	if len(users.Users) != 1 || users.Users[0].UserID == first.UserID || users.Next != "" {
		t.Fatalf("second page = %+v, want the other user and no next", users)
	}
	a.problemOf(a.call("GET", "/v1/admin/users?limit=0", root.AccessToken, nil), http.StatusBadRequest)

	var page auditPage
	a.must(a.call("GET", "/v1/admin/audit", root.AccessToken, nil), http.StatusOK, &page)
	// Newest first: this listing itself (pending while it runs), the bad
	// limit, the two pages, bob's denied attempt. The 401 has no one to name.
	want := []struct{ actor, action, target, outcome string }{
		{root.UserID, "audit.list", "", audit.Pending},
		{root.UserID, "user.list", "", audit.Failed},
		{root.UserID, "user.list", "", audit.OK},
		{root.UserID, "user.list", "", audit.OK},
		{bob.UserID, "user.suspend", root.UserID, audit.Denied},
	}
	if len(page.Entries) != len(want) {
		t.Fatalf("audit = %+v, want %d entries", page.Entries, len(want))
	}
	for i, w := range want {
		e := page.Entries[i]
		if e.Actor != w.actor || e.Action != w.action || e.Target != w.target || e.Outcome != w.outcome || e.At.IsZero() {
			t.Errorf("entry %d = %+v, want %+v", i, e, w)
		}
	}
	if e := page.Entries[4]; e.Status != http.StatusForbidden || e.ActorDevice != bob.DeviceID {
		t.Errorf("denied entry = %+v, want status 403 and bob's device", e)
	}
	if e := page.Entries[1]; e.Status != http.StatusBadRequest || e.Detail == "" {
		t.Errorf("failed entry = %+v, want status 400 with the detail", e)
	}

	// Paging and filters.
	a.must(a.call("GET", "/v1/admin/audit?limit=2&actor="+root.UserID, root.AccessToken, nil), http.StatusOK, &page)
	if len(page.Entries) != 2 || page.Next == "" {
		t.Fatalf("page 1 = %+v", page)
	}
	before := page.Next
	page = auditPage{}
	a.must(a.call("GET", "/v1/admin/audit?limit=10&actor="+root.UserID+"&before="+before, root.AccessToken, nil), http.StatusOK, &page)
	if len(page.Entries) != 3 || page.Entries[0].Action != "user.list" || page.Next != "" {
		t.Errorf("page 2 = %+v, want the 3 older entries of root (the listings are newer)", page.Entries)
	}
}

func TestAdminSuspendsAndUnsuspends(t *testing.T) {
	a, root := withAdmin(t)
	bob := a.user("bob")
	ctx := context.Background()
	opt, err := redis.ParseURL(a.cfg.RedisURL)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	sub := rdb.Subscribe(ctx, events.RevocationChannel(a.cfg.RedisPrefix))
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil { // the subscription is confirmed
		t.Fatal(err)
	}

	a.problemOf(a.call("POST", "/v1/admin/users/"+root.UserID+"/suspend", root.AccessToken, nil), http.StatusConflict)
	a.problemOf(a.call("POST", "/v1/admin/users/u-nobody/suspend", root.AccessToken, nil), http.StatusNotFound)
	var u adminUserView
	a.must(a.call("POST", "/v1/admin/users/"+bob.UserID+"/suspend", root.AccessToken, nil), http.StatusOK, &u)
	if u.UserID != bob.UserID || u.SuspendedAt == nil {
		t.Fatalf("suspend answered %+v", u)
	}

	// The connectors are told on their revocation channel, and the mark
	// their admission check reads lives as long as bob's tokens.
	select {
	case m := <-sub.Channel():
		var got events.UserSuspended
		if err := json.Unmarshal([]byte(m.Payload), &got); err != nil || got != (events.UserSuspended{Type: events.TypeUserSuspended, User: bob.UserID}) {
			t.Errorf("published %s (%v)", m.Payload, err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no suspension published")
	}
	key := events.SuspendedKey(a.cfg.RedisPrefix, bob.UserID)
	if ttl := rdb.PTTL(ctx, key).Val(); ttl <= 0 || ttl > a.cfg.AccessTokenTTL {
		t.Errorf("suspension mark TTL %v, want up to %v", ttl, a.cfg.AccessTokenTTL)
	}

	// Refused everywhere with the same problem: bob's access token, his
	// refresh token, and a login with the right password.
	for name, r := range map[string]response{
		"token":   a.call("GET", "/v1/devices", bob.AccessToken, nil),
		"refresh": a.call("POST", "/v1/token/refresh", "", map[string]string{"refreshToken": bob.RefreshToken}),
		"login": a.call("POST", "/v1/login", "", map[string]string{
			"username": "bob", "password": "password-bob", "deviceId": bob.DeviceID}),
	} {
		if p := a.problemOf(r, http.StatusForbidden); p.Code != "suspended" {
			t.Errorf("%s: problem %+v, want code suspended", name, p)
		}
	}
	// A wrong password is still just a wrong password.
	a.problemOf(a.call("POST", "/v1/login", "", map[string]string{"username": "bob", "password": "nope-nope-nope", "deviceId": bob.DeviceID}), http.StatusUnauthorized)

	u = adminUserView{}
	a.must(a.call("POST", "/v1/admin/users/"+bob.UserID+"/unsuspend", root.AccessToken, nil), http.StatusOK, &u)
	if u.SuspendedAt != nil {
		t.Errorf("unsuspend answered %+v", u)
	}
	if n := rdb.Exists(ctx, key).Val(); n != 0 {
		t.Errorf("suspension mark still there after unsuspend")
	}
	a.must(a.call("GET", "/v1/devices", bob.AccessToken, nil), http.StatusOK, nil)
	a.must(a.call("POST", "/v1/login", "", map[string]string{"username": "bob", "password": "password-bob", "deviceId": bob.DeviceID}), http.StatusOK, nil)

	var page auditPage
	a.must(a.call("GET", "/v1/admin/audit?target="+bob.UserID, root.AccessToken, nil), http.StatusOK, &page)
	if len(page.Entries) != 2 || page.Entries[0].Action != "user.unsuspend" || page.Entries[1].Action != "user.suspend" ||
		page.Entries[1].Outcome != audit.OK || page.Entries[1].Status != http.StatusOK || page.Entries[1].Actor != root.UserID {
		t.Errorf("audit for bob = %+v", page.Entries)
	}
}

func TestAdminRevokesAnyDevice(t *testing.T) {
	a, root := withAdmin(t)
	bob := a.user("bob")
	a.problemOf(a.call("DELETE", "/v1/admin/devices/dv-nothere", root.AccessToken, nil), http.StatusNotFound)
	a.must(a.call("DELETE", "/v1/admin/devices/"+bob.DeviceID, root.AccessToken, nil), http.StatusNoContent, nil)
	a.problemOf(a.call("GET", "/v1/devices", bob.AccessToken, nil), http.StatusUnauthorized)
	var page auditPage
	a.must(a.call("GET", "/v1/admin/audit?action=device.revoke", root.AccessToken, nil), http.StatusOK, &page)
	if len(page.Entries) != 2 || page.Entries[0].Target != bob.DeviceID || page.Entries[0].Status != http.StatusNoContent ||
		page.Entries[1].Status != http.StatusNotFound {
		t.Errorf("audit = %+v", page.Entries)
	}
}

// problemOf is response.problem on the caller's test.
func (a *accounts) problemOf(r response, status int) Problem {
	a.t.Helper()
	return r.problem(a.t, status)
}

// TestAdminDeniedAttemptsAreCoalesced: a non-admin repeating admin calls
// does not flood the audit log: each action's attempts within a minute are
// one entry with their count (the windows themselves: store/audit's
// suite). Every attempt is still refused.
func TestAdminDeniedAttemptsAreCoalesced(t *testing.T) {
	a, root := withAdmin(t)
	bob := a.user("bob")
	for i := range 30 {
		a.problemOf(a.call("POST", "/v1/admin/users/u-"+fmt.Sprint(i)+"/suspend", bob.AccessToken, nil), http.StatusForbidden)
	}
	a.problemOf(a.call("GET", "/v1/admin/audit", bob.AccessToken, nil), http.StatusForbidden)
	var page auditPage
	a.must(a.call("GET", "/v1/admin/audit?actor="+bob.UserID, root.AccessToken, nil), http.StatusOK, &page)
	// 30 attempts may straddle a minute: then two entries, still 30 in all.
	attempts := map[string]int{}
	for _, e := range page.Entries {
		if e.Outcome != audit.Denied || e.Status != http.StatusForbidden || e.ActorDevice != bob.DeviceID {
			t.Errorf("entry %+v, want a denied attempt of bob's device", e)
		}
		attempts[e.Action] += e.Attempts
	}
	if len(page.Entries) > 3 || attempts["user.suspend"] != 30 || attempts["audit.list"] != 1 {
		t.Errorf("bob's entries = %+v (attempts %v), want at most 3 counting 30 user.suspend and 1 audit.list", page.Entries, attempts)
	}
}
