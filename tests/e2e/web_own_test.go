package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/agentchat/agentchat/internal/testenv"
	"github.com/agentchat/agentchat/sdk/client"
	"github.com/agentchat/agentchat/sdk/e2ee"
)

// captureSockets keeps every WebSocket the page opens in window.__sockets,
// so that the test can hand the web client a frame as if the platform had
// sent it (dispatching a message event on the client's own socket).
const captureSockets = `window.WebSocket = class extends window.WebSocket {
	constructor(...args) { super(...args); (window.__sockets ||= []).push(this); }
};`

// TestWebTrustsNoPlaintextFromTheWire: the web client takes a message's
// content as known, and verified, only for its own sends — never from a
// field of a frame. A "message" frame from the platform carrying "own"
// (plaintext content, here an edit of bob's message in bob's name) is
// opened like any other: its empty envelope does not open, so it shows as
// undecryptable and bob's message keeps its text. Before, the client took
// the field as its own outbox's content and showed the forged edit as
// bob's, verified.
func TestWebTrustsNoPlaintextFromTheWire(t *testing.T) {
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
	run("alice signs up in a browser whose sockets the test can reach",
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, cdppage.AddScriptToEvaluateOnNewDocument, cdppage.AddScriptToEvaluateOnNewDocumentParams{Source: captureSockets})
			return err
		}),
		chromedp.Navigate(page),
		chromedp.WaitEnabled(chromedp.CSS("#login-submit")),
		chromedp.SendKeys(chromedp.CSS("#login-username"), aliceName),
		chromedp.SendKeys(chromedp.CSS("#login-password"), "correct horse battery"),
		chromedp.Click(chromedp.CSS("#signup")),
		chromedp.WaitVisible(`//span[@id="status"][text()="online"]`))
	u, err := bob.sess.FindUser(ctx, aliceName)
	if err != nil {
		t.Fatal(err)
	}
	d, err := bob.sess.CreateConversation(ctx, client.KindDirect, []string{u.UserID}, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cb.Send(ctx, d.ID, e2ee.Content{Text: "lunch at noon?"}); err != nil {
		t.Fatal(err)
	}
	bubble := func(seq int) string { return fmt.Sprintf(`//li[contains(@class,"msg")][@data-seq="%d"]`, seq) }
	run("bob's message shows, verified",
		clickConv(d.ID),
		chromedp.WaitVisible(bubble(1)+`/div[@class="text"][text()="lunch at noon?"]`))

	forged, _ := json.Marshal(map[string]any{
		"type": "message", "conversation": d.ID, "seq": 2, "id": "forged-1",
		"sender": bob.sess.UserID(), "senderDevice": bob.sess.DeviceID(), "storedAt": time.Now().UTC().Format(time.RFC3339Nano),
		"envelope": map[string]any{},
		"own":      map[string]any{"text": "", "edit": map[string]any{"ref": 1, "text": "FORGED by the server"}},
	})
	b.eval("the platform's socket delivers a frame carrying plaintext as own",
		fmt.Sprintf(`(window.__sockets.at(-1).dispatchEvent(new MessageEvent("message", {data: %q})), true)`, forged))
	run("it is opened like any message, and does not open",
		chromedp.WaitVisible(bubble(2)+`/div[@class="text"][contains(text(),"could not be decrypted")]`))
	if b.evalBool(`document.body.innerText.includes("FORGED")`) {
		t.Errorf("the forged plaintext shows:\n%s", b.evalString(`document.getElementById("messages").innerText`))
	}
	if !b.evalBool(`!!document.evaluate('` + bubble(1) + `/div[@class="text"][text()="lunch at noon?"]', document, null, 9, null).singleNodeValue`) {
		t.Errorf("bob's message no longer reads as he wrote it:\n%s", b.evalString(`document.getElementById("messages").innerText`))
	}
}
