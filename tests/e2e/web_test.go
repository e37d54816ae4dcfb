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

// TestWebClient drives the web client in a real headless Chromium, served
// by a connector, against the running platform, and talks to a person on
// the Go SDK: the browser signs up and makes its device key, starts a chat,
// and sends — the Go client opens what WebCrypto sealed; the Go client
// answers — the browser opens what Go sealed; the Go client reads — the
// browser shows the blue ticks. Then the connector is restarted (SIGTERM:
// it drains): the page moves when its reconnect hint says and what bob
// sends next shows. Then a new visit logs in again with the same device
// (its key kept in the browser) and the history comes back by resume.
func TestWebClient(t *testing.T) {
	testenv.Env(t, "AGENTCHAT_TEST_CHROMIUM") // first: without a browser the test ends before the platform starts
	_, here, _, _ := runtime.Caller(0)
	webDir := filepath.Join(filepath.Dir(here), "..", "..", "web")
	e := start(t, opts{functions: spineFunctions, webDir: webDir, env: map[string]string{"RECONNECT_SPREAD": "1s"}})
	page := strings.Replace(strings.TrimSuffix(e.p.ConnectorURLs()[0], "/ws"), "ws://", "http://", 1) + "/"

	bob := signup(t, e, "bob")
	cb := bob.dial(t, e)
	wb := watch(cb)

	b := newHeadless(t)
	ctx := b.ctx
	run := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		b.runShowing(what, `"username field: " + document.getElementById("login-username").value`, steps...)
	}

	alice := fmt.Sprintf("alice%d", time.Now().UnixNano()%1e9)
	run("sign up in the browser",
		chromedp.Navigate(page),
		chromedp.WaitEnabled(chromedp.CSS("#login-submit")),
		chromedp.SendKeys(chromedp.CSS("#login-username"), alice),
		chromedp.SendKeys(chromedp.CSS("#login-password"), "correct horse battery"),
		chromedp.Click(chromedp.CSS("#signup")),
		chromedp.WaitVisible(chromedp.CSS("#app")),
		chromedp.WaitVisible(`//span[@id="status"][text()="online"]`),
	)
	run("start a chat with bob",
		chromedp.SendKeys(chromedp.CSS("#new-chat-name"), bob.name),
		chromedp.Click(chromedp.CSS("#new-chat")),
		chromedp.WaitVisible(chromedp.CSS(".conv.current")),
		chromedp.WaitEnabled(chromedp.CSS("#composer")),
	)
	run("send from the browser",
		chromedp.SendKeys(chromedp.CSS("#composer"), "hello from the browser"),
		chromedp.Click(chromedp.CSS("#send")),
		chromedp.WaitVisible(chromedp.CSS(`.msg.mine .ticks[data-state="stored"], .msg.mine .ticks[data-state="delivered"]`)),
	)

	// The Go client opens what the browser sealed.
	var conv string
	testenv.Eventually(t, 30*time.Second, 20*time.Millisecond, func() bool {
		wb.mu.Lock()
		defer wb.mu.Unlock()
		for _, ev := range wb.evs {
			if m, ok := ev.(*client.Message); ok && m.Content.Text == "hello from the browser" {
				conv = m.Conversation
				return true
			}
			if e, ok := ev.(*client.Error); ok {
				t.Fatalf("bob could not open the browser's message: %v", e)
			}
		}
		return false
	}, "bob receives the browser's message")

	// The browser opens what Go sealed, and shows bob's read as blue ticks.
	if _, err := cb.Send(context.Background(), conv, e2ee.Content{Text: "hi browser, from Go"}); err != nil {
		t.Fatal(err)
	}
	run("the browser shows bob's answer",
		chromedp.WaitVisible(`//li[contains(@class,"theirs")]/div[@class="text"][text()="hi browser, from Go"]`),
	)
	if err := cb.MarkRead(conv, 2); err != nil {
		t.Fatal(err)
	}
	run("blue ticks once bob read it",
		chromedp.WaitVisible(chromedp.CSS(`.msg.mine .ticks[data-state="read"]`)),
	)

	// A deploy: the connector drains and restarts (a cluster's load
	// balancer would send the page to another one); the page moves and
	// what bob sends meanwhile shows.
	restartCtx, cancelRestart := context.WithTimeout(ctx, 2*time.Minute)
	defer cancelRestart()
	if err := e.p.Connector(0).Stop(restartCtx); err != nil {
		t.Fatalf("the connector did not drain and stop by itself: %v", err)
	}
	if err := e.p.Connector(0).Restart(restartCtx); err != nil {
		t.Fatal(err)
	}
	if _, err := cb.Send(context.Background(), conv, e2ee.Content{Text: "sent across the deploy"}); err != nil {
		t.Fatal(err)
	}
	run("the page moves and shows what bob sent across the deploy",
		chromedp.WaitVisible(`//li[contains(@class,"theirs")]/div[@class="text"][text()="sent across the deploy"]`),
		chromedp.WaitVisible(`//span[@id="status"][text()="online"]`),
	)

	// A new visit: the same device logs in again and resume brings the history.
	run("a new visit, log in again, history by resume",
		chromedp.Navigate(page), // a new document: the old one's form is gone
		chromedp.WaitVisible(chromedp.CSS("#login-username")),
		chromedp.WaitEnabled(chromedp.CSS("#login-submit")),
		chromedp.SetValue(chromedp.CSS("#login-username"), alice),
		chromedp.SetValue(chromedp.CSS("#login-password"), "correct horse battery"),
		chromedp.Click(chromedp.CSS("#login-submit")),
		chromedp.WaitVisible(chromedp.CSS(".conv")),
		// The list is redrawn as names resolve: click whatever is there now.
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Evaluate[bool](`(document.querySelector(".conv").click(), true)`)(ctx, tg)
			return err
		}),
		chromedp.WaitVisible(`//li[contains(@class,"theirs")]/div[@class="text"][text()="hi browser, from Go"]`),
	)
	textCtx, cancelText := context.WithTimeout(ctx, 10*time.Second)
	defer cancelText()
	texts, err := chromedp.Run(textCtx, chromedp.Text(chromedp.CSS("#messages")))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(texts, "hello from the browser") || strings.Contains(texts, "could not be decrypted") {
		t.Errorf("history after the reload:\n%s", texts)
	}
	devices, err := bob.sess.ConversationDeviceList(context.Background(), conv)
	if err != nil {
		t.Fatal(err)
	}
	if len(devices) != 2 {
		t.Errorf("conversation devices %v: the reload registered another device instead of keeping its key", devices)
	}
}
