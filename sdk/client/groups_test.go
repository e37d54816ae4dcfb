package client

import (
	"testing"

	"github.com/agentchat/agentchat/sdk/protocol"
)

// TestMemberChangeText: every op reads as the clients show it, naming the
// reader "you" and others by name (by id when no name is known).
func TestMemberChangeText(t *testing.T) {
	names := map[string]string{"u-a": "Alice", "u-b": "Bob", "u-c": "Carol"}
	name := func(u string) string { return names[u] }
	for _, tc := range []struct {
		c    protocol.MemberChange
		me   string
		want string
	}{
		{protocol.MemberChange{Op: "add", User: "u-b", By: "u-a"}, "u-c", "Alice added Bob"},
		{protocol.MemberChange{Op: "add", User: "u-b", By: "u-a"}, "u-b", "Alice added you"},
		{protocol.MemberChange{Op: "remove", User: "u-b", By: "u-a"}, "u-a", "You removed Bob"},
		{protocol.MemberChange{Op: "leave", User: "u-b", By: "u-b"}, "u-c", "Bob left"},
		{protocol.MemberChange{Op: "leave", User: "u-a", By: "u-a", Promoted: "u-c"}, "u-c", "Alice left; you are now an admin"},
		{protocol.MemberChange{Op: "admin", User: "u-c", By: "u-a"}, "u-b", "Carol is now an admin"},
		{protocol.MemberChange{Op: "unadmin", User: "u-c", By: "u-a"}, "u-c", "You are no longer an admin"},
		{protocol.MemberChange{Op: "add", User: "u-x", By: "u-a"}, "u-c", "Alice added u-x"},
	} {
		if got := MemberChangeText(tc.c, tc.me, name); got != tc.want {
			t.Errorf("%+v as %s: %q, want %q", tc.c, tc.me, got, tc.want)
		}
	}
}

// TestChangedIdentities: a first sight is no change; another digest is.
func TestChangedIdentities(t *testing.T) {
	seen := map[string]string{}
	if got := ChangedIdentities(seen, map[string]string{"u-b": "1", "u-c": "2"}); len(got) != 0 {
		t.Errorf("first sight: %v", got)
	}
	if got := ChangedIdentities(seen, map[string]string{"u-b": "1", "u-c": "3"}); len(got) != 1 || got[0] != "u-c" {
		t.Errorf("u-c's identity changed: %v", got)
	}
	if seen["u-c"] != "3" {
		t.Errorf("seen not updated: %v", seen)
	}
}
