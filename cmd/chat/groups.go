package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/agentchat/agentchat/sdk/client"
	"github.com/agentchat/agentchat/sdk/e2ee"
)

// Group management in the terminal (sdk/client CreateGroup, AddMembers,
// RemoveMember, Leave, SetAdmin): users are named by username (or by id,
// for agents). What a change did comes back as the group's membership
// entry, printed like a message ("alice added bob").

const groupsHelp = "/group NAME user… creates a group; in a group: /add USER, /remove USER, /leave, " +
	"/admin USER (/unadmin USER) — only admins add, remove and make admins; /safety USER shows your safety number with USER"

// groupCommand runs a group command; false if line is none.
func (v *view) groupCommand(ctx context.Context, line string) bool {
	f := strings.Fields(line)
	if len(f) == 0 {
		return false
	}
	verb, args := f[0], f[1:]
	var err error
	switch verb {
	case "/group":
		if len(args) < 1 {
			v.scr.println("   ✗ /group NAME user…")
			return true
		}
		var ids []string
		if ids, err = v.userIDs(ctx, args[1:]); err == nil {
			var g client.Conversation
			if g, err = v.sess.CreateGroup(ctx, args[0], ids...); err == nil {
				v.scr.println(fmt.Sprintf("   • group %q created — chat -conv %s", args[0], g.ID))
			}
		}
	case "/add", "/remove", "/admin", "/unadmin":
		if len(args) != 1 {
			v.scr.println("   ✗ " + verb + " USER")
			return true
		}
		var ids []string
		if ids, err = v.userIDs(ctx, args); err == nil {
			switch verb {
			case "/add":
				err = v.sess.AddMembers(ctx, v.conv, ids[0])
			case "/remove":
				err = v.sess.RemoveMember(ctx, v.conv, ids[0])
			default:
				err = v.sess.SetAdmin(ctx, v.conv, ids[0], verb == "/admin")
			}
		}
	case "/leave":
		err = v.sess.Leave(ctx, v.conv)
	case "/safety":
		if len(args) != 1 {
			v.scr.println("   ✗ /safety USER")
			return true
		}
		var ids []string
		if ids, err = v.userIDs(ctx, args); err == nil {
			var n string
			if n, err = v.sess.SafetyNumber(ctx, ids[0]); err == nil {
				v.scr.println(fmt.Sprintf("   🔐 security code with %s: %s", v.name(ids[0]), e2ee.FormatSafetyNumber(n)))
			}
		}
	default:
		return false
	}
	if err != nil {
		v.scr.println("   ✗ " + err.Error())
	}
	return true
}

// userIDs turns usernames into user ids; what is no username is taken as
// an id (an agent's, or a user's), which accounts checks.
func (v *view) userIDs(ctx context.Context, names []string) ([]string, error) {
	ids := make([]string, 0, len(names))
	for _, n := range names {
		u, err := v.sess.FindUser(ctx, strings.ToLower(n))
		if err != nil {
			ids = append(ids, n)
			continue
		}
		v.mu.Lock()
		if v.names[u.UserID] == "" {
			v.names[u.UserID] = u.Username
		}
		v.mu.Unlock()
		ids = append(ids, u.UserID)
	}
	return ids, nil
}

// memberLine is a membership entry as the screen shows it.
func (v *view) memberLine(e *client.MemberEntry) string {
	return fmt.Sprintf("   [#%d] • %s", e.Seq, e.Text(v.me, func(u string) string {
		if n := v.name(u); n != u {
			return n
		}
		return ""
	}))
}

// checkIdentities compares the members' identities with those this device
// saw last (its state file) and says whose security code changed — a
// device added, removed or replaced (docs/e2ee.md, "Safety numbers").
func (v *view) checkIdentities(ctx context.Context) {
	if v.sess == nil || v.st == nil {
		return
	}
	now, err := v.sess.Identities(ctx, v.conv)
	if err != nil {
		v.scr.println("   ✗ key directory: " + err.Error())
		return
	}
	if v.st.Identities == nil {
		v.st.Identities = map[string]string{}
	}
	for _, u := range client.ChangedIdentities(v.st.Identities, now) {
		v.scr.println(fmt.Sprintf("   🔐 %s's security code changed (/safety %s shows the new one)", v.name(u), u))
	}
	_ = v.st.save()
}
