package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/agentchat/agentchat/sdk/client"
	"github.com/agentchat/agentchat/sdk/protocol"
)

// TestGroupCommands: /group, /add, /remove, /admin, /unadmin and /leave
// become accounts' calls, usernames turned into ids; a refusal is shown;
// membership entries of the conversation print as lines, and the entry of
// this user's own removal prints whatever conversation it is.
func TestGroupCommands(t *testing.T) {
	var mu sync.Mutex
	var calls []string
	mux := http.NewServeMux()
	reply := func(w http.ResponseWriter, status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(v)
	}
	note := func(r *http.Request, body string) {
		mu.Lock()
		defer mu.Unlock()
		calls = append(calls, r.Method+" "+r.URL.Path+" "+body)
	}
	mux.HandleFunc("GET /v1/users", func(w http.ResponseWriter, r *http.Request) {
		if u := r.URL.Query().Get("username"); u == "bob" || u == "cy" {
			reply(w, http.StatusOK, map[string]string{"userId": "u-" + u, "kind": "user", "username": u})
			return
		}
		reply(w, http.StatusNotFound, map[string]any{"title": "Not Found", "status": 404})
	})
	mux.HandleFunc("POST /v1/conversations", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Kind, Title string
			Members     []string
		}
		json.NewDecoder(r.Body).Decode(&in)
		note(r, in.Kind+":"+in.Title+":"+strings.Join(in.Members, ","))
		reply(w, http.StatusCreated, map[string]any{"conversationId": "g-new", "kind": "group", "members": in.Members})
	})
	member := func(w http.ResponseWriter, r *http.Request) {
		var in struct{ UserID string }
		json.NewDecoder(r.Body).Decode(&in)
		note(r, in.UserID)
		if in.UserID == "u-cy" && strings.HasSuffix(r.URL.Path, "/members") {
			reply(w, http.StatusForbidden, map[string]any{"title": "Forbidden", "status": 403, "detail": "only the group's admins can do that"})
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
	mux.HandleFunc("POST /v1/conversations/{id}/members", member)
	mux.HandleFunc("POST /v1/conversations/{id}/admins", member)
	mux.HandleFunc("DELETE /v1/conversations/{id}/members/{user}", member)
	mux.HandleFunc("DELETE /v1/conversations/{id}/admins/{user}", member)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	sess := client.NewAccounts(srv.URL, nil).Resume(client.Tokens{UserID: "u-ann", DeviceID: "d-ann", AccessToken: "t", ExpiresIn: 3600})

	out := &syncBuffer{}
	stdout = out
	v := &view{scr: newScreen(""), me: "u-ann", conv: "g-1", names: map[string]string{}, sess: sess}
	ctx := context.Background()
	for _, line := range []string{"/group Plans bob calc", "/add bob", "/remove bob", "/admin bob", "/unadmin bob", "/add cy", "/leave"} {
		if !v.groupCommand(ctx, line) {
			t.Fatalf("%q is no group command", line)
		}
	}
	if v.groupCommand(ctx, "/react 1 👍") {
		t.Error("/react taken for a group command")
	}
	want := []string{
		"POST /v1/conversations group:Plans:u-bob,calc", // calc: no username, taken as an (agent's) id
		"POST /v1/conversations/g-1/members u-bob",
		"DELETE /v1/conversations/g-1/members/u-bob ",
		"POST /v1/conversations/g-1/admins u-bob",
		"DELETE /v1/conversations/g-1/admins/u-bob ",
		"POST /v1/conversations/g-1/members u-cy",
		"DELETE /v1/conversations/g-1/members/u-ann ",
	}
	mu.Lock()
	if !slices.Equal(calls, want) {
		t.Errorf("calls:\n%s\nwant:\n%s", strings.Join(calls, "\n"), strings.Join(want, "\n"))
	}
	mu.Unlock()
	for _, w := range []string{`group "Plans" created — chat -conv g-new`, "✗ ", "only the group's admins can do that"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("screen lacks %q:\n%s", w, out.String())
		}
	}

	v.show(&client.MemberEntry{Conversation: "g-1", Seq: 4, Change: protocol.MemberChange{Op: protocol.MemberAdd, User: "u-bob", By: "u-ann", Rev: 2}})
	v.show(&client.MemberEntry{Conversation: "g-2", Seq: 9, Change: protocol.MemberChange{Op: protocol.MemberAdd, User: "u-cy", By: "u-bob", Rev: 2}})
	v.show(&client.MemberEntry{Conversation: "g-3", Seq: 7, Change: protocol.MemberChange{Op: protocol.MemberRemove, User: "u-ann", By: "u-bob", Rev: 5}})
	got := out.String()
	for _, w := range []string{"[#4] • You added bob", "[#7] • bob removed you"} {
		if !strings.Contains(got, w) {
			t.Errorf("screen lacks %q:\n%s", w, got)
		}
	}
	if strings.Contains(got, "[#9]") {
		t.Errorf("another conversation's entry was shown:\n%s", got)
	}
}
