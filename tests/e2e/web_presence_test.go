package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/agentchat/agentchat/internal/testenv"
	"github.com/agentchat/agentchat/sdk/client"
	"github.com/agentchat/agentchat/sdk/e2ee"
)

// TestWebPresence: presence and last seen in the web client against the
// running platform, with people on the Go SDK (docs/protocol.md,
// "Presence"):
//   - bob (Go) comes online: alice's browser shows "online" under the title
//     of their direct chat;
//   - carol shares only a group with bob (no direct chat): under bob's
//     default setting (contacts) her snapshot leaves him out; once bob
//     shows everyone, she is told he is online, and a fresh snapshot of
//     hers lists him; dave, who shares nothing with bob, never hears of him;
//   - bob disconnects: after the grace the browser shows "last seen today
//     at …", and carol is told his last seen;
//   - bob back, then shows nobody: the browser's line goes at once, carol
//     is told there is nothing to show, and bob — who now shows nobody —
//     sees nobody's (his snapshot is empty although alice is online).
//   - alice's privacy select in the browser (set to nobody) takes her out
//     of bob's view and saves the setting in accounts.
func TestWebPresence(t *testing.T) {
	testenv.Env(t, "AGENTCHAT_TEST_CHROMIUM") // first: without a browser the test ends before the platform starts
	_, here, _, _ := runtime.Caller(0)
	webDir := filepath.Join(filepath.Dir(here), "..", "..", "web")
	e := start(t, opts{functions: spineFunctions, webDir: webDir, env: map[string]string{"PRESENCE_GRACE": "1s"}})
	page := strings.Replace(strings.TrimSuffix(e.p.ConnectorURLs()[0], "/ws"), "ws://", "http://", 1) + "/"
	ctx := context.Background()

	bob, carol, dave := signup(t, e, "bob"), signup(t, e, "carol"), signup(t, e, "dave")
	b := newHeadless(t)
	run := b.run
	aliceName := fmt.Sprintf("alice%d", time.Now().UnixNano()%1e9)
	run("alice signs up in the browser",
		chromedp.Navigate(page),
		chromedp.WaitEnabled(chromedp.CSS("#login-submit")),
		chromedp.SendKeys(chromedp.CSS("#login-username"), aliceName),
		chromedp.SendKeys(chromedp.CSS("#login-password"), "correct horse battery"),
		chromedp.Click(chromedp.CSS("#signup")),
		chromedp.WaitVisible(`//span[@id="status"][text()="online"]`),
	)
	alice, err := bob.sess.FindUser(ctx, aliceName)
	if err != nil {
		t.Fatal(err)
	}
	d, err := bob.sess.CreateConversation(ctx, client.KindDirect, []string{alice.UserID}, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bob.sess.CreateConversation(ctx, client.KindGroup, []string{carol.id}, "Climbing"); err != nil {
		t.Fatal(err)
	}
	item := fmt.Sprintf(`//li[contains(@class,"conv")][@data-id=%q]`, d.ID)
	run("alice opens her chat with bob: nothing to show yet",
		chromedp.WaitVisible(item),
		clickConv(d.ID),
		chromedp.WaitVisible(fmt.Sprintf(`//header[@id="chat-title"][text()=%q]`, bob.name)),
		chromedp.WaitNotVisible(`#chat-presence`),
	)

	// dial connects p's device asking for presence, and keeps its events.
	dial := func(p *person) (*client.Client, *watcher) {
		c, err := client.Dial(ctx, client.Config{URLs: e.p.ConnectorURLs(), Token: p.sess.Token, User: p.id,
			Device: p.sess.DeviceID(), Key: p.key, Directory: p.sess, Presence: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c, watch(c)
	}
	cDave, wDave := dial(dave)
	defer cDave.Close()
	cb, wBob := dial(bob)
	run("bob comes online: the browser shows it under the chat title",
		chromedp.WaitVisible(`//div[@id="chat-presence"][text()="online"]`))

	// carol is not bob's contact: under his default setting she sees nothing.
	cc, wCarol := dial(carol)
	if snap := wCarol.snapshot(t, 1); snap.has(bob.id) {
		t.Errorf("carol (not a contact) got bob in her snapshot under 'contacts': %+v", snap)
	}
	if err := bob.sess.SetPresenceVisibility(ctx, client.VisibleEveryone); err != nil {
		t.Fatal(err)
	}
	wCarol.waitPresence(t, bob.id, "online", "carol is told bob is online once he shows everyone")
	if n := wCarol.presenceCount(bob.id); n != 1 {
		t.Errorf("carol had %d presence frames about bob, want only the one after 'everyone'", n)
	}
	cc.Close()
	cc, wCarol = dial(carol)
	if snap := wCarol.snapshot(t, 1); !snap.online(bob.id) {
		t.Errorf("carol's snapshot under 'everyone' leaves bob out: %+v", snap)
	}

	// bob leaves: last seen, once the grace has passed.
	left := time.Now()
	cb.Close()
	run("bob disconnects: the browser shows his last seen",
		chromedp.WaitVisible(`//div[@id="chat-presence"][starts-with(text(),"last seen today at ")]`))
	p := wCarol.waitPresence(t, bob.id, "last seen", "carol is told bob's last seen")
	if p.LastSeen.Before(left.Add(-2*time.Second)) || p.LastSeen.After(time.Now()) {
		t.Errorf("bob's last seen %v, he left at %v", p.LastSeen, left)
	}

	// bob back, then hiding it: the line goes at once.
	cb, wBob = dial(bob)
	run("bob back online", chromedp.WaitVisible(`//div[@id="chat-presence"][text()="online"]`))
	wBob.snapshot(t, 1)
	if err := bob.sess.SetPresenceVisibility(ctx, client.VisibleNobody); err != nil {
		t.Fatal(err)
	}
	run("bob shows nobody: the browser no longer shows it",
		chromedp.WaitNotVisible(`#chat-presence`))
	run("and the line is empty", chromedp.WaitReady(`//div[@id="chat-presence"][not(normalize-space(text()))]`))
	wCarol.waitPresence(t, bob.id, "", "carol is told there is nothing to show")
	// Reciprocal: bob, showing nobody, sees nobody (alice is online).
	if snap := wBob.snapshot(t, 2); len(snap.Users) != 0 {
		t.Errorf("bob shows nobody, yet his snapshot shows %+v", snap)
	}

	// alice's own setting, from the browser's select: bob shows contacts
	// again and sees her online; she picks nobody, and he no longer does.
	if err := bob.sess.SetPresenceVisibility(ctx, client.VisibleContacts); err != nil {
		t.Fatal(err)
	}
	if snap := wBob.snapshot(t, 3); !snap.online(alice.UserID) {
		t.Errorf("bob (contacts again) does not see alice online: %+v", snap)
	}
	run("alice picks nobody in her settings",
		chromedp.Click(`#settings summary`),
		chromedp.WaitEnabled(`#presence-visibility`),
	)
	if v := b.evalString(`document.getElementById("presence-visibility").value`); v != "contacts" {
		t.Errorf("the select shows %q, want alice's default, contacts", v)
	}
	b.eval("alice chooses nobody", `(() => { const s = document.getElementById("presence-visibility");
		s.value = "nobody"; s.dispatchEvent(new Event("change")); return true; })()`)
	wBob.waitPresence(t, alice.UserID, "", "bob is told alice's presence is gone")
	key, _ := e2ee.GenerateKey()
	as, err := client.NewAccounts(e.p.AccountsURL(), nil).Login(ctx, client.LoginRequest{Username: aliceName,
		Password: "correct horse battery", PublicKey: key.PublicKey(), DeviceName: "phone"})
	if err != nil {
		t.Fatal(err)
	}
	if v, err := as.PresenceVisibility(ctx); err != nil || v != client.VisibleNobody {
		t.Errorf("alice's setting in accounts: %q, %v; want nobody", v, err)
	}

	// dave shares no conversation with bob or alice: never told anything.
	if n := wDave.presenceCount(bob.id) + wDave.presenceCount(alice.UserID); n != 0 {
		t.Errorf("dave, a stranger, got %d presence frames about bob or alice", n)
	}
	if snap := wDave.snapshot(t, 1); len(snap.Users) != 0 {
		t.Errorf("dave's snapshot: %+v", snap)
	}
}

// snapshot waits for the n-th presence snapshot the client got.
func (w *watcher) snapshot(t *testing.T, n int) presenceSnap {
	t.Helper()
	var got presenceSnap
	testenv.Eventually(t, 30*time.Second, 20*time.Millisecond, func() bool {
		w.mu.Lock()
		defer w.mu.Unlock()
		i := 0
		for _, ev := range w.evs {
			if s, ok := ev.(*client.PresenceSnapshot); ok {
				if i++; i == n {
					got = presenceSnap(*s)
					return true
				}
			}
		}
		return false
	}, fmt.Sprintf("presence snapshot #%d", n))
	return got
}

type presenceSnap client.PresenceSnapshot

func (s presenceSnap) has(user string) bool {
	for _, p := range s.Users {
		if p.User == user {
			return true
		}
	}
	return false
}

func (s presenceSnap) online(user string) bool {
	for _, p := range s.Users {
		if p.User == user && p.Online {
			return true
		}
	}
	return false
}

// waitPresence waits for the latest presence frame about user to say
// state: "online", "last seen", or "" (nothing to show).
func (w *watcher) waitPresence(t *testing.T, user, state, what string) client.Presence {
	t.Helper()
	var got client.Presence
	testenv.Eventually(t, 30*time.Second, 20*time.Millisecond, func() bool {
		w.mu.Lock()
		defer w.mu.Unlock()
		for i := len(w.evs) - 1; i >= 0; i-- {
			if p, ok := w.evs[i].(*client.Presence); ok && p.User == user {
				got = *p
				s := ""
				switch {
				case p.Online:
					s = "online"
				case !p.LastSeen.IsZero():
					s = "last seen"
				}
				return s == state
			}
		}
		return false
	}, what)
	return got
}

// presenceCount counts the presence frames about user (not snapshots).
func (w *watcher) presenceCount(user string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, ev := range w.evs {
		if p, ok := ev.(*client.Presence); ok && p.User == user {
			n++
		}
	}
	return n
}
