package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/agentchat/agentchat/internal/testenv"
	"github.com/agentchat/agentchat/sdk/client"
	"github.com/agentchat/agentchat/sdk/e2ee"
	"github.com/agentchat/agentchat/sdk/protocol"
)

// memberEntries are the membership entries of conv a Go client has handed
// out, in the order it did.
func (w *watcher) memberEntries(conv string) []*client.MemberEntry {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []*client.MemberEntry
	for _, ev := range w.evs {
		if m, ok := ev.(*client.MemberEntry); ok && m.Conversation == conv {
			out = append(out, m)
		}
	}
	return out
}

// conversationChanges are the conversation changes of conv it handed out.
func (w *watcher) conversationChanges(conv string) []*client.ConversationChange {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []*client.ConversationChange
	for _, ev := range w.evs {
		if c, ok := ev.(*client.ConversationChange); ok && c.ID == conv {
			out = append(out, c)
		}
	}
	return out
}

// TestWebGroups: group management in the browser and in the Go client,
// against the running platform (docs/protocol.md, "Group management"):
//   - alice, in the browser, creates a group with carol and dave, then in
//     its info panel adds bob (a Go user) and an agent and removes bob;
//     the browser, carol's Go client (online throughout) and bob's show
//     the membership entries in seq order, with seqs of their own;
//   - bob's client is told it was removed: the entry of its removal and a
//     conversation change without him, after which the group is no longer
//     followed;
//   - the panel shows admin badges; dave, no admin, is refused; alice
//     makes carol an admin and leaves, both in the panel, and carol gets
//     both entries;
//   - carol's Go client creates a group with alice, adds dave and makes
//     alice an admin: the browser shows the group and those entries.
func TestWebGroups(t *testing.T) {
	testenv.Env(t, "AGENTCHAT_TEST_CHROMIUM")
	_, here, _, _ := runtime.Caller(0)
	webDir := filepath.Join(filepath.Dir(here), "..", "..", "web")
	e := start(t, opts{functions: spineFunctions, webDir: webDir})
	page := strings.Replace(strings.TrimSuffix(e.p.ConnectorURLs()[0], "/ws"), "ws://", "http://", 1) + "/"
	ctx := context.Background()

	bob, carol, dave := signup(t, e, "bob"), signup(t, e, "carol"), signup(t, e, "dave")
	cb, cc := bob.dial(t, e), carol.dial(t, e)
	wb, wc := watch(cb), watch(cc)
	agentKey, _ := e2ee.GenerateKey()
	agentID := fmt.Sprintf("helper%d", time.Now().UnixNano()%1e9)
	if _, err := carol.sess.RegisterAgent(ctx, "Helper", "model", agentKey.PublicKey(), agentID); err != nil {
		t.Fatal(err)
	}

	b := newHeadless(t)
	run := b.run
	item := func(conv string) string { return fmt.Sprintf(`//li[contains(@class,"conv")][@data-id=%q]`, conv) }
	entries := func() []string {
		return evalIn[[]string](b, `[...document.querySelectorAll("#messages li.system")].map((li) => li.dataset.seq + " " + li.textContent)`)
	}
	aliceName := fmt.Sprintf("alice%d", time.Now().UnixNano()%1e9)
	run("alice signs up in the browser",
		chromedp.Navigate(page),
		chromedp.WaitEnabled(chromedp.CSS("#login-submit")),
		chromedp.SendKeys(chromedp.CSS("#login-username"), aliceName),
		chromedp.SendKeys(chromedp.CSS("#login-password"), "correct horse battery"),
		chromedp.Click(chromedp.CSS("#signup")),
		chromedp.WaitVisible(`//span[@id="status"][text()="online"]`),
	)
	u, err := bob.sess.FindUser(ctx, aliceName)
	if err != nil {
		t.Fatal(err)
	}
	alice := u.UserID

	run("alice creates a group with carol and dave",
		chromedp.SendKeys(chromedp.CSS("#new-chat-name"), carol.name+", "+dave.name),
		chromedp.Click(chromedp.CSS("#new-chat")),
		chromedp.WaitVisible(`//li[contains(@class,"conv")][contains(@class,"current")]`),
		chromedp.WaitVisible(chromedp.CSS("#group-info")),
		chromedp.Click(chromedp.CSS("#group-info")),
		chromedp.WaitVisible(`//li[@class="member"][span[@class="name"][text()="You"]]/span[@class="admin-badge"]`),
	)
	g := b.evalString(`document.querySelector("li.conv.current").dataset.id`)
	member := func(user string) string { return fmt.Sprintf(`//li[@class="member"][@data-user=%q]`, user) }

	add := func(who string) {
		run("alice adds "+who+" in the group panel",
			chromedp.SendKeys(chromedp.CSS("#group-add-name"), who),
			chromedp.Click(chromedp.CSS("#group-add")))
	}
	add(bob.name)
	run("the entry: You added bob",
		chromedp.WaitVisible(fmt.Sprintf(`//li[contains(@class,"system")][text()=%q]`, "You added "+bob.name)),
		chromedp.WaitVisible(member(bob.id)))
	add(agentID)
	run("the entry: You added Helper",
		chromedp.WaitVisible(`//li[contains(@class,"system")][text()="You added Helper"]`),
		chromedp.WaitVisible(member(agentID)))
	testenv.Eventually(t, 30*time.Second, 20*time.Millisecond, func() bool { return len(wb.memberEntries(g)) >= 2 },
		"bob, added, has the two entries (a sync from 0)")
	run("alice removes bob in the group panel",
		chromedp.Click(member(bob.id)+`/button[@class="remove"]`),
		chromedp.WaitVisible(fmt.Sprintf(`//li[contains(@class,"system")][text()=%q]`, "You removed "+bob.name)),
		chromedp.WaitNotPresent(member(bob.id)))

	// Everyone online has the entries in seq order, each at a seq of its own.
	want := []string{"add " + bob.id, "add " + agentID, "remove " + bob.id}
	got := entries()
	if len(got) != 3 {
		t.Fatalf("the browser shows entries %q, want 3", got)
	}
	var seqs []int64
	for i, s := range got {
		var seq int64
		fmt.Sscan(s, &seq)
		seqs = append(seqs, seq)
		if i > 0 && seq <= seqs[i-1] {
			t.Errorf("browser entries out of seq order: %q", got)
		}
	}
	testenv.Eventually(t, 30*time.Second, 20*time.Millisecond, func() bool { return len(wc.memberEntries(g)) >= 3 },
		"carol has the three entries")
	var carolSaw []string
	for i, m := range wc.memberEntries(g) {
		carolSaw = append(carolSaw, m.Change.Op+" "+m.Change.User)
		if m.Change.By != alice || m.Seq != seqs[i] {
			t.Errorf("carol's entry %d: %+v at seq %d, want by alice at seq %d", i, m.Change, m.Seq, seqs[i])
		}
	}
	if !slices.Equal(carolSaw, want) {
		t.Errorf("carol's entries %q, want %q", carolSaw, want)
	}
	if n := len(wc.memberEntries(g)); n != 3 {
		t.Errorf("carol got %d entries, want each once (3)", n)
	}

	// bob's client is told it was removed, and stops following the group.
	testenv.Eventually(t, 30*time.Second, 20*time.Millisecond, func() bool {
		es := wb.memberEntries(g)
		return len(es) == 3 && es[2].Change.Op == protocol.MemberRemove && es[2].Change.User == bob.id
	}, "bob's client has the entry of its removal")
	testenv.Eventually(t, 30*time.Second, 20*time.Millisecond, func() bool {
		for _, c := range wb.conversationChanges(g) {
			if !c.Member {
				return true
			}
		}
		return false
	}, "bob's client learns it is no longer a member")
	if es := wb.memberEntries(g); es[0].Change.Op != protocol.MemberAdd || es[0].Change.User != bob.id || es[1].Change.User != agentID {
		t.Errorf("bob's entries: %+v, %+v", es[0].Change, es[1].Change)
	}
	if text := wb.memberEntries(g)[2].Text(bob.id, nil); text != alice+" removed you" {
		t.Errorf("bob's client renders its removal as %q", text)
	}

	// Only admins manage: dave is refused, alice's panel shows the badges.
	if err := dave.sess.AddMember(ctx, g, bob.id); err == nil || !strings.Contains(err.Error(), "admins") {
		t.Errorf("dave (no admin) adding bob: %v, want refused", err)
	}
	if b.evalInt(`document.querySelectorAll("#group-members .admin-badge").length`) != 1 {
		t.Error("the panel shows admin badges on others than alice")
	}

	// alice makes carol an admin, then leaves: the group leaves her list,
	// carol has both entries after the others.
	run("alice makes carol an admin in the panel",
		chromedp.Click(member(carol.id)+`/button[@class="make-admin"]`),
		chromedp.WaitVisible(fmt.Sprintf(`//li[contains(@class,"system")][text()=%q]`, carol.name+" is now an admin")),
		chromedp.WaitVisible(member(carol.id)+`/span[@class="admin-badge"]`))
	run("alice leaves the group", chromedp.Click(chromedp.CSS("#group-leave")), chromedp.WaitNotPresent(item(g)))
	testenv.Eventually(t, 30*time.Second, 20*time.Millisecond, func() bool { return len(wc.memberEntries(g)) >= 5 },
		"carol has the entries of the promotion and of alice's leave")
	if es := wc.memberEntries(g); es[3].Change.Op != protocol.MemberAdmin || es[3].Change.User != carol.id ||
		es[4].Change.Op != protocol.MemberLeave || es[4].Change.User != alice || es[4].Seq <= es[3].Seq || es[3].Seq <= seqs[2] {
		t.Errorf("carol's last entries: %+v at %d, %+v at %d", es[3].Change, es[3].Seq, es[4].Change, es[4].Seq)
	}

	// A group the Go client creates with the browser's user.
	g2, err := carol.sess.CreateGroup(ctx, "Go made", alice)
	if err != nil {
		t.Fatal(err)
	}
	run("the browser lists the group carol created", chromedp.WaitVisible(item(g2.ID)+`//span[@class="title"][text()="Go made"]`))
	if err := carol.sess.AddMembers(ctx, g2.ID, dave.id); err != nil {
		t.Fatal(err)
	}
	if err := carol.sess.SetAdmin(ctx, g2.ID, alice, true); err != nil {
		t.Fatal(err)
	}
	run("the browser shows carol's changes as entries, in order",
		clickConv(g2.ID),
		chromedp.WaitVisible(fmt.Sprintf(`//li[contains(@class,"system")][text()=%q]`, carol.name+" added "+dave.name)),
		chromedp.WaitVisible(`//li[contains(@class,"system")][text()="You are now an admin"]`))
	b.eval("the group panel stays open across groups", `document.getElementById("group-panel").hidden && document.getElementById("group-info").click(), true`)
	run("the panel shows carol's group: carol an admin, alice one now (she may make dave one)",
		chromedp.WaitVisible(member(carol.id)+`/span[@class="admin-badge"]`),
		chromedp.WaitVisible(member(dave.id)+`/button[@class="make-admin"]`))
	if got := entries(); len(got) != 2 || !strings.HasSuffix(got[0], "added "+dave.name) || !strings.HasSuffix(got[1], "You are now an admin") {
		t.Errorf("entries of carol's group in the browser: %q", got)
	}
}
