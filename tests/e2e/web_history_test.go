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
)

// TestWebLocalHistory: history that feels local (issue 13, item 4),
// against the running platform, with bob on the Go SDK on the other side:
//   - bob pages back through 130 messages with the Go client's History;
//   - alice's browser, with an empty local store, starts from the newest
//     page (not from seq 1) and scrolling to the top brings the older
//     pages, down to bob's first message;
//   - a search box finds a word of that oldest message, in the browser;
//   - a reload renders the history from IndexedDB without downloading one
//     message again (window.agentchatStats counts the stored messages the
//     platform sent), scrolling back there needs no platform either, and
//     a new message is the one message that comes;
//   - an edit, a delete and a reaction about messages below the newest 100
//     a reload loads show nothing "ignored", and apply once scrolling back
//     loads their messages; the search finds messages as they read now;
//   - IndexedDB holds records that do not contain the canary word, under
//     a non-extractable AES-GCM key; logging out deletes them.
func TestWebLocalHistory(t *testing.T) {
	testenv.Env(t, "AGENTCHAT_TEST_CHROMIUM") // first: without a browser the test ends before the platform starts
	_, here, _, _ := runtime.Caller(0)
	webDir := filepath.Join(filepath.Dir(here), "..", "..", "web")
	e := start(t, opts{functions: spineFunctions, webDir: webDir})
	page := strings.Replace(strings.TrimSuffix(e.p.ConnectorURLs()[0], "/ws"), "ws://", "http://", 1) + "/"
	ctx := context.Background()

	bob := signup(t, e, "bob")
	cb := bob.dial(t, e)

	b := newHeadless(t)
	run := b.run
	aliceName := fmt.Sprintf("alice%d", time.Now().UnixNano()%1e9)
	login := func(what string, button string) {
		run(what,
			chromedp.Navigate(page),
			chromedp.WaitEnabled(chromedp.CSS("#login-submit")),
			chromedp.SendKeys(chromedp.CSS("#login-username"), aliceName),
			chromedp.SendKeys(chromedp.CSS("#login-password"), "correct horse battery"),
			chromedp.Click(chromedp.CSS(button)),
			chromedp.WaitVisible(`//span[@id="status"][text()="online"]`),
		)
	}
	login("alice signs up in the browser", "#signup")
	run("and closes the page", chromedp.Navigate("about:blank"))
	u, err := bob.sess.FindUser(ctx, aliceName)
	if err != nil {
		t.Fatal(err)
	}

	// 130 messages while alice is away: the first holds the canary word.
	canary := fmt.Sprintf("zebracanary%d", time.Now().UnixNano()%1e9)
	d, err := bob.sess.CreateConversation(ctx, client.KindDirect, []string{u.UserID}, "")
	if err != nil {
		t.Fatal(err)
	}
	const total = 130
	send := func(text string) {
		t.Helper()
		if _, err := cb.Send(ctx, d.ID, e2ee.Content{Text: text}); err != nil {
			t.Fatal(err)
		}
	}
	send("the first one: " + canary + " was here")
	testenv.Eventually(t, 30*time.Second, 20*time.Millisecond, func() bool { return len(e.storedSeqs(t, d.ID)) == 1 }, "the canary stored as seq 1")
	for i := 2; i <= total; i++ {
		send(fmt.Sprintf("message number %d", i))
	}
	testenv.Eventually(t, 2*time.Minute, 50*time.Millisecond, func() bool { return len(e.storedSeqs(t, d.ID)) == total }, "130 messages stored")

	// The Go client pages back: 81..130, 31..80, 1..30.
	var pages [][]int64
	before := int64(0)
	for {
		p, err := cb.History(ctx, d.ID, before, 50)
		if err != nil {
			t.Fatal(err)
		}
		var seqs []int64
		for _, m := range p.Messages {
			seqs = append(seqs, m.Seq)
		}
		pages = append(pages, seqs)
		if len(p.Errors) > 0 || len(seqs) == 0 || seqs[len(seqs)-1]-seqs[0] != int64(len(seqs)-1) {
			t.Fatalf("page before %d: seqs %v, %d errors", before, seqs, len(p.Errors))
		}
		if !p.More {
			if seqs[0] != 1 || !strings.Contains(p.Messages[0].Content.Text, canary) || !p.Messages[0].Own {
				t.Fatalf("the last page starts %+v, want bob's own seq 1 with the canary", p.Messages[0])
			}
			break
		}
		before = p.Oldest
	}
	if got := [][2]int64{{pages[0][0], pages[0][len(pages[0])-1]}, {pages[1][0], pages[1][len(pages[1])-1]}, {pages[2][0], pages[2][len(pages[2])-1]}}; len(pages) != 3 ||
		!slices.Equal(got[:], [][2]int64{{81, 130}, {31, 80}, {1, 30}}) {
		t.Fatalf("Go pages %v, want 81..130, 31..80, 1..30", got)
	}

	// An empty local store: the newest page first, then back on scrolling.
	msg := func(seq int) string { return fmt.Sprintf(`//li[contains(@class,"msg")][@data-seq="%d"]`, seq) }
	count := `document.querySelectorAll("#messages li.msg[data-seq]").length`
	login("alice logs in again, on the same device", "#login-submit")
	run("the conversation opens on its newest page",
		clickConv(d.ID),
		chromedp.WaitVisible(msg(130)),
		chromedp.WaitVisible(msg(81)))
	if n := b.evalInt(count); n != 50 {
		t.Errorf("%d messages shown, want the newest page of 50", n)
	}
	// The counter counts: the newest page came from the platform.
	if got := b.evalInt(`window.agentchatStats.messages`); got < 50 || got > 100 {
		t.Errorf("%d messages downloaded for a conversation of %d: want the newest page's 50, and at most the first resume answer's 50 besides", got, total)
	}
	t.Logf("an empty store, the newest page: the platform sent %s", b.evalString(`JSON.stringify(window.agentchatStats)`))
	if b.evalBool(fmt.Sprintf(`document.body.innerText.includes(%q)`, canary)) {
		t.Error("the oldest message is shown before scrolling back")
	}
	scrollTop := `(document.getElementById("messages").scrollTop = 0, true)`
	b.runShowing("scrolling to the top brings the page before", count,
		chromedp.Evaluate[chromedp.Void](scrollTop), chromedp.WaitVisible(msg(31)))
	b.runShowing("and the one before that, down to the first message", count,
		chromedp.Evaluate[chromedp.Void](scrollTop), chromedp.WaitVisible(msg(1)+fmt.Sprintf(`/div[@class="text"][contains(text(),%q)]`, canary)))
	if n := b.evalInt(count); n != total {
		t.Errorf("%d messages shown after scrolling back, want %d", n, total)
	}

	// Local search.
	result := fmt.Sprintf(`//li[@class="search-result"][@data-conv=%q][@data-seq="1"]/span[@class="search-text"][contains(text(),%q)]`, d.ID, canary)
	run("a search finds the word of the oldest message",
		chromedp.SendKeys(chromedp.CSS("#search"), canary),
		chromedp.WaitVisible(result))

	// What IndexedDB holds: every record sealed.
	dump := `(async () => {
		const open = (name) => new Promise((ok, no) => { const r = indexedDB.open(name); r.onsuccess = () => ok(r.result); r.onerror = () => no(r.error); });
		const req = (r) => new Promise((ok, no) => { r.onsuccess = () => ok(r.result); r.onerror = () => no(r.error); });
		const names = (await indexedDB.databases()).map((d) => d.name).filter((n) => n.startsWith("agentchat-history:"));
		if (names.length !== 1) return JSON.stringify({ names });
		const db = await open(names[0]);
		const key = await req(db.transaction("meta").objectStore("meta").get("key"));
		const recs = await req(db.transaction("messages").objectStore("messages").getAll());
		const bytes = (b) => b instanceof ArrayBuffer || ArrayBuffer.isView(b) ? new TextDecoder("latin1").decode(b) : JSON.stringify(b);
		const text = recs.map((r) => Object.entries(r).map(([k, v]) => k + "=" + bytes(v)).join(";")).join("\n");
		db.close();
		return JSON.stringify({ names, records: recs.length, plaintext: text.includes(%q) || text.includes("message number"),
			cryptoKey: key instanceof CryptoKey, extractable: key.extractable, alg: key.algorithm.name, sample: text.slice(0, 40) });
	})()`
	checkStore := func(want int) string {
		t.Helper()
		var got string
		testenv.Eventually(t, 30*time.Second, 50*time.Millisecond, func() bool {
			got = b.evalString(fmt.Sprintf(dump, canary))
			return strings.Contains(got, fmt.Sprintf(`"records":%d,`, want))
		}, fmt.Sprintf("%d records in IndexedDB", want))
		if !strings.Contains(got, `"plaintext":false,"cryptoKey":true,"extractable":false,"alg":"AES-GCM"`) {
			t.Errorf("IndexedDB: %s; want no plaintext, under a non-extractable AES-GCM CryptoKey", got)
		}
		return got
	}
	t.Logf("IndexedDB: %s", checkStore(total))

	// A reload: from IndexedDB, nothing downloaded again.
	login("alice reloads and logs in", "#login-submit")
	run("the conversation shows its history from IndexedDB",
		clickConv(d.ID),
		chromedp.WaitVisible(msg(130)),
		chromedp.WaitVisible(msg(31)),
		chromedp.Poll[chromedp.Void](`window.agentchatStats.frames.resumed >= 1`))
	if got := b.evalString(`JSON.stringify(window.agentchatStats)`); !strings.Contains(got, `"messages":0}`) {
		t.Errorf("after the reload the platform sent %s: want no message (resumed from the highest stored seq)", got)
	} else {
		t.Logf("after the reload, 100 messages shown from IndexedDB; the platform sent %s", got)
	}
	b.runShowing("scrolling back after the reload reads the local store", count,
		chromedp.Evaluate[chromedp.Void](scrollTop), chromedp.WaitVisible(msg(1)))
	if got := b.evalInt(`window.agentchatStats.messages`); got != 0 {
		t.Errorf("scrolling back through the local store downloaded %d messages", got)
	}
	send("fresh after the reload")
	run("a new message comes", chromedp.WaitVisible(msg(total+1)+`/div[@class="text"][text()="fresh after the reload"]`))
	if got := b.evalInt(`window.agentchatStats.messages`); got < 1 || got > 2 {
		t.Errorf("%d messages downloaded for one new one (live, perhaps again in an idle sync)", got)
	}
	checkStore(total + 1)

	// Actions about messages below what a start loads (the newest 100):
	// bob edits the canary message, deletes #2 and reacts to #3. Reloaded,
	// their originals are not loaded yet: no "ignored" line for them, and
	// scrolling back shows them applied. The search reads messages as they
	// are now: #1 by its new text, not by the canary; #2 not at all.
	rewritten := fmt.Sprintf("rewritten%d", time.Now().UnixNano()%1e9)
	if _, err := cb.Edit(ctx, d.ID, 1, "the first one, "+rewritten); err != nil {
		t.Fatal(err)
	}
	if _, err := cb.Delete(ctx, d.ID, 2); err != nil {
		t.Fatal(err)
	}
	if _, err := cb.React(ctx, d.ID, 3, "👍"); err != nil {
		t.Fatal(err)
	}
	applied := []chromedp.Action[chromedp.Void]{
		chromedp.WaitVisible(msg(1) + `//span[@class="edited"]`),
		chromedp.WaitVisible(msg(2) + `/div[@class="text"][contains(text(),"This message was deleted")]`),
		chromedp.WaitVisible(msg(3) + `/div[@class="reactions"]/span[@data-emoji="👍"]`),
	}
	run("the browser applies bob's edit, delete and reaction", applied...)
	checkStore(total + 4)
	login("alice reloads once more", "#login-submit")
	run("the newest 100 show, bob's actions among them (not bubbles of their own)", clickConv(d.ID), chromedp.WaitVisible(msg(total+1)))
	if n := b.evalInt(`document.querySelectorAll("#messages li.invalid-action").length`); n != 0 {
		t.Errorf("%d actions shown as ignored: their messages are only not loaded yet", n)
	}
	b.runShowing("scrolling back shows them applied", count,
		append([]chromedp.Action[chromedp.Void]{chromedp.Evaluate[chromedp.Void](scrollTop)}, applied...)...)
	run("a search for the canary, edited away, finds nothing",
		chromedp.SendKeys(chromedp.CSS("#search"), canary),
		chromedp.WaitVisible(chromedp.CSS("#search-results li.search-none")))
	clearSearch := `(document.getElementById("search").value = "", true)`
	found := func(seq int, word string) string {
		return fmt.Sprintf(`//li[@class="search-result"][@data-conv=%q][@data-seq="%d"]/span[@class="search-text"][contains(text(),%q)]`, d.ID, seq, word)
	}
	run("a search for its new text finds it",
		chromedp.Evaluate[chromedp.Void](clearSearch),
		chromedp.SendKeys(chromedp.CSS("#search"), rewritten),
		chromedp.WaitVisible(found(1, rewritten)))
	// Bob's sends are pipelined: two of them may be stored in either
	// order (seqs are the platform's), so "message number 20" is found
	// by its words, whatever its seq.
	run("a search for the deleted message's words finds others",
		chromedp.Evaluate[chromedp.Void](clearSearch),
		chromedp.SendKeys(chromedp.CSS("#search"), "message number 2"),
		chromedp.WaitVisible(fmt.Sprintf(`//li[@class="search-result"][@data-conv=%q]/span[@class="search-text"][text()="message number 20"]`, d.ID)))
	if b.evalBool(`!!document.querySelector('#search-results li.search-result[data-seq="2"]')`) {
		t.Error("the search finds a message deleted for everyone")
	}

	// Logging out deletes the local store.
	run("alice logs out", chromedp.Click(chromedp.CSS("#logout")), chromedp.WaitVisible(chromedp.CSS("#login-form")))
	testenv.Eventually(t, 30*time.Second, 50*time.Millisecond, func() bool {
		return b.evalInt(`indexedDB.databases().then((ds) => ds.filter((d) => d.name.startsWith("agentchat-history:")).length)`) == 0
	}, "no local history after logging out")
}
