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

// TestWebConversationList: the web client's conversation list stays true
// without a reload, against the running platform, with people on the Go
// SDK on the other side (docs/protocol.md, "conversation"):
//   - a direct conversation carol starts with alice appears at once, named
//     after carol; a group bob creates with alice in it appears with its
//     title;
//   - bob's messages count on the group's unread badge, with the last one
//     as its preview (decrypted in the browser);
//   - alice reading on her other device (Go) clears the browser's badge,
//     and what she sends from it counts as nothing; alice reading in the
//     browser reaches her other device as her own read receipt;
//   - bob removing alice takes the group out of her list;
//   - a group created while alice's Go device was away reaches it, named,
//     in the resume answer of its next connect.
func TestWebConversationList(t *testing.T) {
	testenv.Env(t, "AGENTCHAT_TEST_CHROMIUM") // first: without a browser the test ends before the platform starts
	_, here, _, _ := runtime.Caller(0)
	webDir := filepath.Join(filepath.Dir(here), "..", "..", "web")
	e := start(t, opts{functions: spineFunctions, webDir: webDir})
	page := strings.Replace(strings.TrimSuffix(e.p.ConnectorURLs()[0], "/ws"), "ws://", "http://", 1) + "/"
	ctx := context.Background()

	bob, carol := signup(t, e, "bob"), signup(t, e, "carol")
	cb := bob.dial(t, e)

	b := newHeadless(t)
	run := b.run
	item := func(conv string) string { return fmt.Sprintf(`//li[contains(@class,"conv")][@data-id=%q]`, conv) }
	badge := func(conv string) string { return item(conv) + `/span[@class="unread"]` }

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
	// alice's other device, on the Go SDK: the same account, its own key.
	key, _ := e2ee.GenerateKey()
	sess, err := client.NewAccounts(e.p.AccountsURL(), nil).Login(ctx, client.LoginRequest{Username: aliceName,
		Password: "correct horse battery", PublicKey: key.PublicKey(), DeviceName: "phone"})
	if err != nil {
		t.Fatal(err)
	}
	alice := &person{name: aliceName, id: u.UserID, sess: sess, key: key}
	ca := alice.dial(t, e)
	wa := watch(ca)

	d, err := carol.sess.CreateConversation(ctx, client.KindDirect, []string{alice.id}, "")
	if err != nil {
		t.Fatal(err)
	}
	run("a direct conversation carol starts appears, named after carol",
		chromedp.WaitVisible(item(d.ID)+fmt.Sprintf(`//span[@class="title"][text()=%q]`, carol.name)))
	g, err := bob.sess.CreateConversation(ctx, client.KindGroup, []string{alice.id, carol.id}, "Weekend plans")
	if err != nil {
		t.Fatal(err)
	}
	run("a group bob creates with alice in it appears with its title",
		chromedp.WaitVisible(item(g.ID)+`//span[@class="title"][text()="Weekend plans"]`))

	// One after the other: two sends in a row may be stored in either order.
	for i, text := range []string{"first", "second"} {
		if _, err := cb.Send(ctx, g.ID, e2ee.Content{Text: text}); err != nil {
			t.Fatal(err)
		}
		run(fmt.Sprintf("bob's message %d counts on the badge and is the preview", i+1),
			chromedp.WaitVisible(badge(g.ID)+fmt.Sprintf(`[text()="%d"]`, i+1)),
			chromedp.WaitVisible(item(g.ID)+fmt.Sprintf(`//span[@class="preview"][text()=%q]`, bob.name+": "+text)))
	}

	// Read on alice's other device: the member's cursor moves, and the
	// browser, told by her own read receipt, clears its badge.
	testenv.Eventually(t, 30*time.Second, 20*time.Millisecond, func() bool { return len(wa.messages(g.ID, bob.id)) == 2 },
		"alice's Go device has bob's two messages")
	// (Up to the seq of bob's second message: his sender key's
	// distribution came first, docs/e2ee.md "Sender keys".)
	if err := ca.MarkRead(g.ID, wa.messages(g.ID, bob.id)[1].Seq); err != nil {
		t.Fatal(err)
	}
	run("read on alice's other device clears the browser's badge",
		chromedp.WaitNotPresent(badge(g.ID)),
		chromedp.WaitVisible(item(g.ID)+`//span[@class="preview"][contains(text(),": second")]`))

	// What alice sends from her other device is hers: no unread.
	if _, err := ca.Send(ctx, g.ID, e2ee.Content{Text: "from my phone"}); err != nil {
		t.Fatal(err)
	}
	run("alice's own message from her other device is the preview, and counts as nothing",
		chromedp.WaitVisible(item(g.ID)+`//span[@class="preview"][text()="You: from my phone"]`),
		chromedp.WaitNotPresent(badge(g.ID)))
	if _, err := cb.Send(ctx, g.ID, e2ee.Content{Text: "third"}); err != nil {
		t.Fatal(err)
	}
	run("a new message counts again", chromedp.WaitVisible(badge(g.ID)+`[text()="1"]`))
	testenv.Eventually(t, 30*time.Second, 20*time.Millisecond, func() bool {
		n, err := ca.Unread(g.ID)
		return err == nil && n == 1
	}, "alice's Go device counts the same one unread")
	run("opening the group in the browser reads it",
		clickConv(g.ID),
		chromedp.WaitVisible(`//li[contains(@class,"theirs")]/div[@class="text"][text()="third"]`),
		chromedp.WaitNotPresent(badge(g.ID)))
	testenv.Eventually(t, 30*time.Second, 20*time.Millisecond, func() bool {
		third := wa.messages(g.ID, bob.id) // its seq: distributions take seqs too
		if len(third) < 3 {
			return false
		}
		wa.mu.Lock()
		defer wa.mu.Unlock()
		for _, ev := range wa.evs {
			if r, ok := ev.(*client.Receipt); ok && r.Conversation == g.ID && r.User == alice.id && r.Device != sess.DeviceID() &&
				r.Kind == client.ReceiptRead && r.Seq == third[2].Seq {
				return true
			}
		}
		return false
	}, "alice's Go device gets her own read receipt from the browser")
	testenv.Eventually(t, 30*time.Second, 20*time.Millisecond, func() bool {
		n, err := ca.Unread(g.ID)
		return err == nil && n == 0
	}, "read in the browser, nothing is unread on alice's Go device either")

	// Taken out of the group: it leaves the list, at once.
	if err := bob.sess.RemoveMember(ctx, g.ID, alice.id); err != nil {
		t.Fatal(err)
	}
	run("removed by bob, the group leaves alice's list",
		chromedp.WaitNotPresent(item(g.ID)),
		chromedp.WaitVisible(item(d.ID)))

	// Away: a group created meanwhile comes, named, with the next resume.
	ca.Close()
	later, err := bob.sess.CreateConversation(ctx, client.KindGroup, []string{alice.id}, "Later")
	if err != nil {
		t.Fatal(err)
	}
	run("the browser, online, shows it at once",
		chromedp.WaitVisible(item(later.ID)+`//span[@class="title"][text()="Later"]`))
	wa2 := watch(alice.dial(t, e))
	testenv.Eventually(t, 30*time.Second, 20*time.Millisecond, func() bool {
		wa2.mu.Lock()
		defer wa2.mu.Unlock()
		for _, ev := range wa2.evs {
			if ch, ok := ev.(*client.ConversationChange); ok && ch.ID == later.ID {
				if ch.Title != "Later" || ch.Kind != client.KindGroup || !ch.Member || len(ch.Members) != 2 {
					t.Fatalf("the new group as the resume answer names it: %+v", ch)
				}
				return true
			}
		}
		return false
	}, "alice's Go device, back, learns of the group created while it was away")
}
