package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/serviceworker"
	"github.com/chromedp/chromedp"

	"github.com/agentchat/agentchat/internal/testenv"
)

// The web client's service worker: after login the page registers
// web/sw.js (scope: the whole client, under the page's content security
// policy); a push delivered to it through the DevTools protocol
// (ServiceWorker.deliverPushMessage) makes it show "New message", tagged
// by conversation, and nothing of what a payload carries besides the
// conversation (a payload stuffed with text shows none of it);
// a click focuses an open tab, which opens the conversation, or opens the
// client at #c=<id>, which shows that conversation after login.
func TestWebPushShowsNotification(t *testing.T) {
	testenv.Env(t, "AGENTCHAT_TEST_CHROMIUM")
	_, here, _, _ := runtime.Caller(0)
	webDir := filepath.Join(filepath.Dir(here), "..", "..", "web")
	e := start(t, opts{functions: []string{"accounts", "persist", "route", "deadletter"}, webDir: webDir})
	page := strings.Replace(strings.TrimSuffix(e.p.ConnectorURLs()[0], "/ws"), "ws://", "http://", 1) + "/"
	origin := strings.TrimSuffix(page, "/")

	b := newHeadless(t)
	regCtx, cancelReg := context.WithTimeout(b.ctx, 2*time.Minute) // ends the wait for the registration below
	defer cancelReg()
	registrations := chromedp.Events(regCtx, serviceworker.WorkerRegistrationUpdated)
	b.run("enable the ServiceWorker domain", chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, serviceworker.Enable, struct{}{})
		return err
	}))

	alice := fmt.Sprintf("alice%d", time.Now().UnixNano()%1e9)
	b.run("sign up in the browser",
		chromedp.Navigate(page),
		chromedp.WaitEnabled(chromedp.CSS("#login-submit")),
		chromedp.SendKeys(chromedp.CSS("#login-username"), alice),
		chromedp.SendKeys(chromedp.CSS("#login-password"), "correct horse battery"),
		chromedp.Click(chromedp.CSS("#signup")),
		chromedp.WaitVisible(chromedp.CSS("#app")),
		chromedp.WaitVisible(`//span[@id="status"][text()="online"]`),
	)
	// Notifications not allowed yet: the page offers the button that
	// asks (a permission prompt needs a user gesture).
	b.run("the 🔔 button shows", chromedp.WaitVisible(chromedp.CSS("#notify")))
	// Allowed, as a click on it would (headless Chromium reaches no push
	// service, so the page's own subscribe would never finish; the pushes
	// below come through the DevTools protocol instead).
	if _, err := chromedp.CallBrowser(b.ctx, cdpbrowser.SetPermission, cdpbrowser.SetPermissionParams{
		Permission: &cdpbrowser.PermissionDescriptor{Name: "notifications"}, Setting: cdpbrowser.PermissionSettingGranted, Origin: origin,
	}); err != nil {
		t.Fatal(err)
	}
	if scope := b.evalString(`navigator.serviceWorker.ready.then((r) => r.active ? r.scope : "")`); scope != page {
		t.Fatalf("service worker scope %q, want %q", scope, page)
	}
	var reg serviceworker.RegistrationID
	for ev, err := range registrations {
		if err != nil {
			t.Fatalf("waiting for the service worker's registration: %v", err)
		}
		for _, r := range ev.Registrations {
			if r.ScopeURL == page && !r.IsDeleted {
				reg = r.RegistrationID
			}
		}
		if reg != "" {
			break
		}
	}

	deliver := func(data string) {
		t.Helper()
		b.run("deliver a push", chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			_, err := chromedp.Call(ctx, serviceworker.DeliverPushMessage,
				serviceworker.DeliverPushMessageParams{Origin: origin, RegistrationID: reg, Data: data})
			return err
		}))
	}
	// The page records what the worker tells it: it posts {type: "push"}
	// once its notification is shown.
	b.eval("listen to the worker", `(window.pushes = [], navigator.serviceWorker.addEventListener("message",
		(ev) => { if (ev.data?.type === "push") window.pushes.push(ev.data.conversation); }), true)`)
	waitPush := func(conv string) {
		t.Helper()
		testenv.Eventually(t, 30*time.Second, 20*time.Millisecond, func() bool {
			return b.evalBool(`window.pushes.includes(` + strconv.Quote(conv) + `)`)
		}, "the worker to show the notification for "+conv)
	}
	deliver(`{"type":"message","conversation":"c-push-1"}`)
	waitPush("c-push-1")
	const canary = "PUSH-CANARY-web-41"
	deliver(`{"type":"message","conversation":"c-push-2","text":"` + canary + `","sender":"` + canary + `"}`)
	waitPush("c-push-2")

	// What it shows, for every kind of payload: the worker's own code
	// (web/sw.js, as served) run in the page against a stand-in of its
	// global scope that records showNotification. (getNotifications is no
	// witness in headless Chromium: it keeps no list of displayed
	// notifications and drops them from its answers again.)
	src, err := os.ReadFile(filepath.Join(webDir, "sw.js"))
	if err != nil {
		t.Fatal(err)
	}
	type shown struct{ Title, Body, Tag, Conversation string }
	var got []shown
	out := b.evalString(`(async () => {
		const handlers = {}, calls = [];
		const self = {
			addEventListener: (type, fn) => { handlers[type] = fn; },
			registration: { showNotification: async (title, o = {}) => {
				calls.push({title, body: o.body ?? "", tag: o.tag ?? "", conversation: o.data?.conversation ?? ""}); } },
			clients: { matchAll: async () => [] },
			location: location,
		};
		` + string(src) + `
		for (const data of [
			'{"type":"message","conversation":"c-1"}',
			'{"type":"message","conversation":"c-2","text":"` + canary + `","sender":"` + canary + `"}',
			'not json ` + canary + `',
			'{"type":"message","conversation":"<b>` + canary + `</b>"}',
			null,
		]) {
			let wait;
			handlers.push({ data: data === null ? null : { json: () => JSON.parse(data) }, waitUntil: (p) => { wait = p; } });
			await wait;
		}
		return JSON.stringify(calls);
	})()`)
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%s: %v", out, err)
	}
	want := []shown{
		{"New message", "", "agentchat:c-1", "c-1"},
		{"New message", "", "agentchat:c-2", "c-2"},
		{"New message", "", "agentchat:new", ""},
		{"New message", "", "agentchat:new", ""},
		{"New message", "", "agentchat:new", ""},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("the worker shows %+v, want %+v", got, want)
	}
	if strings.Contains(out, canary) {
		t.Error("a notification carries text from the payload")
	}
	// A click: with a tab of the client open, the worker asks it to open
	// the conversation and focuses it; without one, it opens the client
	// at #c=<id>.
	clicks := b.evalString(`(async () => {
		const handlers = {}, did = [];
		let tabs = [];
		const self = {
			addEventListener: (type, fn) => { handlers[type] = fn; },
			registration: { showNotification: async () => {} },
			clients: {
				matchAll: async () => tabs,
				openWindow: async (url) => { did.push("openWindow " + url); },
			},
			location: location,
		};
		` + string(src) + `
		const click = async () => {
			let wait;
			handlers.notificationclick({ notification: { data: { conversation: "c-1" }, close: () => did.push("close") },
				waitUntil: (p) => { wait = p; } });
			await wait;
		};
		tabs = [{ url: location.href, postMessage: (m) => did.push("postMessage " + JSON.stringify(m)), focus: async () => did.push("focus") }];
		await click();
		tabs = [];
		await click();
		return JSON.stringify(did);
	})()`)
	if want := `["close","postMessage {\"type\":\"open\",\"conversation\":\"c-1\"}","focus","close","openWindow ./#c=c-1"]`; clicks != want {
		t.Errorf("clicks did %s, want %s", clicks, want)
	}

	bob := signup(t, e, "bob")
	b.run("start a chat with bob",
		chromedp.SendKeys(chromedp.CSS("#new-chat-name"), bob.name),
		chromedp.Click(chromedp.CSS("#new-chat")),
		chromedp.WaitVisible(chromedp.CSS(".conv.current")),
	)
	conv := b.evalString(`document.querySelector(".conv.current").dataset.id`)
	carol := signup(t, e, "carol")
	b.run("start a chat with carol",
		chromedp.SendKeys(chromedp.CSS("#new-chat-name"), carol.name),
		chromedp.Click(chromedp.CSS("#new-chat")),
		chromedp.WaitVisible(chromedp.CSS(`.conv.current:not([data-id="`+conv+`"])`)),
	)
	// What the worker posts to a tab after a click on bob's conversation's
	// notification (as above) opens it.
	b.eval("the worker's open message", `navigator.serviceWorker.dispatchEvent(new MessageEvent("message",
		{data: {type: "open", conversation: `+strconv.Quote(conv)+`}})) || true`)
	b.run("the tab opens the conversation", chromedp.WaitVisible(chromedp.CSS(`.conv.current[data-id="`+conv+`"]`)))
	b.run("open the client at #c=<id> and log in",
		chromedp.Navigate(page+"#c="+conv),
		chromedp.Reload(),
		chromedp.WaitEnabled(chromedp.CSS("#login-submit")),
		chromedp.SendKeys(chromedp.CSS("#login-username"), alice),
		chromedp.SendKeys(chromedp.CSS("#login-password"), "correct horse battery"),
		chromedp.Click(chromedp.CSS("#login-submit")),
		chromedp.WaitVisible(chromedp.CSS(`.conv.current[data-id="`+conv+`"]`)),
	)
}
