package e2e

import (
	"context"
	"errors"
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

// TestWebEditsRepliesReactions: replies, edits, deletes and reactions
// between the web client (alice, Chromium) and the Go SDK (bob), against
// the running platform (docs/protocol.md, "Replies, edits, deletes and
// reactions"):
//   - bob's edit shows in the browser as the new text, labelled "edited";
//     his delete for everyone as "This message was deleted";
//   - alice's reply shows its quote, and reaches bob with replyTo; her
//     reaction and her edit reach bob as actions that apply;
//   - bob's reaction shows under alice's bubble;
//   - bob's forged edit of alice's message changes nothing and is shown as
//     ignored;
//   - delete for me hides a message in this browser only;
//   - after a reload (log in again: the same device) all of it is still
//     true, worked out again from the history.
func TestWebEditsRepliesReactions(t *testing.T) {
	testenv.Env(t, "AGENTCHAT_TEST_CHROMIUM") // first: without a browser the test ends before the platform starts
	_, here, _, _ := runtime.Caller(0)
	webDir := filepath.Join(filepath.Dir(here), "..", "..", "web")
	e := start(t, opts{functions: spineFunctions, webDir: webDir})
	page := strings.Replace(strings.TrimSuffix(e.p.ConnectorURLs()[0], "/ws"), "ws://", "http://", 1) + "/"
	ctx := context.Background()

	bob := signup(t, e, "bob")
	cb := bob.dial(t, e)
	wb := watch(cb)

	b := newHeadless(t)
	run := b.run
	bubble := func(seq int64) string { return fmt.Sprintf(`//li[contains(@class,"msg")][@data-seq="%d"]`, seq) }
	click := func(what, css string) {
		t.Helper()
		// The actions show on hover; a click in the page is what a user's is.
		if !b.evalBool(fmt.Sprintf(`(() => { const x = document.querySelector(%q); if (!x) return false; x.click(); return true; })()`, css)) {
			t.Fatalf("%s: no %s on the page:\n%s", what, css, b.evalString(`document.body.innerText`))
		}
	}
	// seqOf waits for bob's client to have the message with client
	// message id id (his own, stored) or, for id "", alice's whose
	// content passes match; it returns it.
	seqOf := func(what string, match func(*client.Message) bool) *client.Message {
		t.Helper()
		var got *client.Message
		testenv.Eventually(t, 30*time.Second, 20*time.Millisecond, func() bool {
			wb.mu.Lock()
			defer wb.mu.Unlock()
			for _, ev := range wb.evs {
				if m, ok := ev.(*client.Message); ok && match(m) {
					got = m
					return true
				}
			}
			return false
		}, what)
		return got
	}
	own := func(id string) func(*client.Message) bool {
		return func(m *client.Message) bool { return m.ID == id }
	}
	send := func(what string, id string, err error) int64 {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return seqOf(what, own(id)).Seq
	}

	aliceName := fmt.Sprintf("alice%d", time.Now().UnixNano()%1e9)
	login := []chromedp.Action[chromedp.Void]{
		chromedp.WaitEnabled(chromedp.CSS("#login-submit")),
		chromedp.SendKeys(chromedp.CSS("#login-username"), aliceName),
		chromedp.SendKeys(chromedp.CSS("#login-password"), "correct horse battery"),
	}
	run("alice signs up in the browser", append(append([]chromedp.Action[chromedp.Void]{chromedp.Navigate(page)}, login...),
		chromedp.Click(chromedp.CSS("#signup")),
		chromedp.WaitVisible(`//span[@id="status"][text()="online"]`))...)
	u, err := bob.sess.FindUser(ctx, aliceName)
	if err != nil {
		t.Fatal(err)
	}
	d, err := bob.sess.CreateConversation(ctx, client.KindDirect, []string{u.UserID}, "")
	if err != nil {
		t.Fatal(err)
	}

	// bob: a message, its edit, another message and its delete.
	id, err := cb.Send(ctx, d.ID, e2ee.Content{Text: "lunch at noon?"})
	lunch := send("bob's message is stored", id, err)
	id, err = cb.Edit(ctx, d.ID, lunch, "lunch at one?")
	send("bob's edit is stored", id, err)
	id, err = cb.Send(ctx, d.ID, e2ee.Content{Text: "my bank pin is 1234"})
	oops := send("bob's second message is stored", id, err)
	id, err = cb.Delete(ctx, d.ID, oops)
	send("bob's delete is stored", id, err)
	run("the browser shows bob's edit, labelled, and his delete",
		clickConv(d.ID),
		chromedp.WaitVisible(bubble(lunch)+`/div[@class="text"][text()="lunch at one?"]`),
		chromedp.WaitVisible(bubble(lunch)+`//span[@class="edited"]`),
		chromedp.WaitVisible(bubble(oops)+`/div[@class="text"][contains(text(),"This message was deleted")]`),
	)
	if strings.Contains(b.evalString(`document.body.innerText`), "1234") {
		t.Fatal("the deleted message's text is still on the page")
	}

	// alice: a reply to bob's (edited) message, with its quote.
	click("reply", fmt.Sprintf(`li.msg[data-seq="%d"] .act-reply`, lunch))
	run("alice replies from the browser",
		chromedp.WaitVisible(`//div[@id="compose-target"][contains(.,"lunch at one?")]`),
		chromedp.SendKeys(chromedp.CSS("#composer"), "sure"),
		chromedp.Click(chromedp.CSS("#send")),
	)
	reply := seqOf("bob gets alice's reply, naming the message it answers", func(m *client.Message) bool {
		return m.Sender == u.UserID && m.Content.Text == "sure"
	})
	if reply.Content.ReplyTo != lunch || reply.Invalid != nil {
		t.Fatalf("alice's reply reaches bob as %+v", reply)
	}
	run("alice's reply shows its quote",
		chromedp.WaitVisible(bubble(reply.Seq)+`/div[@class="quote"][@data-ref="`+fmt.Sprint(lunch)+`"]/span[@class="quote-text"][text()="lunch at one?"]`))
	click("the quote", fmt.Sprintf(`li.msg[data-seq="%d"] .quote`, reply.Seq))
	run("a click on the quote shows the message it answers", chromedp.WaitVisible(bubble(lunch)+`[contains(@class,"flash")]`))

	// alice reacts to bob's message; bob reacts to alice's reply.
	click("react", fmt.Sprintf(`li.msg[data-seq="%d"] .act-react`, lunch))
	click("👍", fmt.Sprintf(`li.msg[data-seq="%d"] .picker .emoji`, lunch))
	thumbs := seqOf("bob gets alice's reaction", func(m *client.Message) bool { return m.Sender == u.UserID && m.Content.React != nil })
	if thumbs.Content.React.Ref != lunch || thumbs.Content.React.Emoji != "👍" || thumbs.Invalid != nil {
		t.Fatalf("alice's reaction reaches bob as %+v (invalid: %v)", thumbs.Content.React, thumbs.Invalid)
	}
	id, err = cb.React(ctx, d.ID, reply.Seq, "❤️")
	send("bob's reaction is stored", id, err)
	run("bob's reaction shows under alice's reply, hers under bob's message",
		chromedp.WaitVisible(bubble(reply.Seq)+`/div[@class="reactions"]/span[@data-emoji="❤️"][text()="❤️ 1"]`),
		chromedp.WaitVisible(bubble(lunch)+`/div[@class="reactions"]/span[contains(@class,"own")][@data-emoji="👍"]`))

	// bob forges an edit of alice's reply (Send does not check, as a
	// modified client would not): the browser refuses it.
	id, err = cb.Send(ctx, d.ID, e2ee.Content{Edit: &e2ee.Edit{Ref: reply.Seq, Text: "I owe bob 100€"}})
	forged := send("bob's forged edit is stored", id, err)
	run("the browser shows the forged edit as ignored, and alice's text unchanged",
		chromedp.WaitVisible(fmt.Sprintf(`//li[contains(@class,"invalid-action")][@data-seq="%d"][contains(.,"only the sender")]`, forged)),
		chromedp.WaitVisible(bubble(reply.Seq)+`/div[@class="text"][text()="sure"]`))
	if m := seqOf("bob's own client refuses it too", own(id)); !errors.Is(m.Invalid, e2ee.ErrNotSender) {
		t.Errorf("bob's client takes his forged edit as %v", m.Invalid)
	}

	// alice edits her reply from the browser.
	click("edit", fmt.Sprintf(`li.msg[data-seq="%d"] .act-edit`, reply.Seq))
	if got := b.evalString(`document.getElementById("composer").value`); got != "sure" {
		t.Errorf("editing puts %q in the composer, want the text to edit", got)
	}
	b.eval("clear the composer", `(() => { document.getElementById("composer").value = ""; return true; })()`)
	run("alice edits her reply",
		chromedp.WaitVisible(`//div[@id="compose-target"][@data-mode="edit"]`),
		chromedp.SendKeys(chromedp.CSS("#composer"), "sure, one is fine"),
		chromedp.Click(chromedp.CSS("#send")),
		chromedp.WaitVisible(bubble(reply.Seq)+`/div[@class="text"][text()="sure, one is fine"]`))
	edit := seqOf("bob gets alice's edit", func(m *client.Message) bool { return m.Sender == u.UserID && m.Content.Edit != nil })
	if edit.Content.Edit.Ref != reply.Seq || edit.Content.Edit.Text != "sure, one is fine" || edit.Invalid != nil {
		t.Fatalf("alice's edit reaches bob as %+v (invalid: %v)", edit.Content.Edit, edit.Invalid)
	}

	// Delete for me: gone here, and only here.
	hello, err := cb.Send(ctx, d.ID, e2ee.Content{Text: "forget this one"})
	helloSeq := send("bob's third message is stored", hello, err)
	run("bob's third message shows", chromedp.WaitVisible(bubble(helloSeq)))
	click("delete for me", fmt.Sprintf(`li.msg[data-seq="%d"] .act-delete-me`, helloSeq))
	run("deleted for me, it is gone from the browser", chromedp.WaitNotPresent(bubble(helloSeq)))

	checks := []chromedp.Action[chromedp.Void]{
		chromedp.WaitVisible(bubble(lunch) + `/div[@class="text"][text()="lunch at one?"]`),
		chromedp.WaitVisible(bubble(lunch) + `//span[@class="edited"]`),
		chromedp.WaitVisible(bubble(oops) + `/div[@class="text"][contains(text(),"This message was deleted")]`),
		chromedp.WaitVisible(bubble(reply.Seq) + `/div[@class="quote"]/span[@class="quote-text"][text()="lunch at one?"]`),
		chromedp.WaitVisible(bubble(reply.Seq) + `/div[@class="text"][text()="sure, one is fine"]`),
		chromedp.WaitVisible(bubble(reply.Seq) + `/div[@class="reactions"]/span[@data-emoji="❤️"]`),
		chromedp.WaitVisible(bubble(lunch) + `/div[@class="reactions"]/span[@data-emoji="👍"]`),
		chromedp.WaitVisible(fmt.Sprintf(`//li[contains(@class,"invalid-action")][@data-seq="%d"]`, forged)),
	}
	run("after a reload and a login, the same device shows all of it again",
		append(append([]chromedp.Action[chromedp.Void]{chromedp.Reload()}, login...),
			append([]chromedp.Action[chromedp.Void]{
				chromedp.Click(chromedp.CSS("#login-submit")),
				chromedp.WaitVisible(`//span[@id="status"][text()="online"]`),
				clickConv(d.ID),
			}, checks...)...)...)
	if b.evalBool(fmt.Sprintf(`!!document.querySelector('li.msg[data-seq="%d"]') || document.body.innerText.includes("1234") || document.body.innerText.includes("forget this one")`, helloSeq)) {
		t.Error("after the reload a deleted message shows again")
	}
	// bob's client, which received everything live, agrees on what applies.
	if m := seqOf("bob has alice's edit", own(edit.ID)); m.Invalid != nil {
		t.Errorf("bob's client refuses alice's edit: %v", m.Invalid)
	}
}
