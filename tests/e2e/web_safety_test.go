package e2e

import (
	"context"
	"fmt"
	"os"
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

// TestWebSafetyNumbers: safety numbers and key-change notices in the
// browser, against a Go user (docs/e2ee.md, "Safety numbers"):
//   - web/safety.js computes the vectors sdk/e2ee checks (Signal's
//     published one and agentchat's multi-device ones) in Chromium;
//   - the safety number the browser shows with bob is the one bob's Go
//     client computes with alice;
//   - bob adding a device (a new identity key) makes the conversation
//     show "bob's security code changed", and both sides' numbers change
//     alike.
func TestWebSafetyNumbers(t *testing.T) {
	testenv.Env(t, "AGENTCHAT_TEST_CHROMIUM")
	_, here, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(here), "..", "..")
	e := start(t, opts{functions: spineFunctions, webDir: filepath.Join(root, "web")})
	page := strings.Replace(strings.TrimSuffix(e.p.ConnectorURLs()[0], "/ws"), "ws://", "http://", 1) + "/"
	ctx := context.Background()
	vectors, err := os.ReadFile(filepath.Join(root, "sdk", "e2ee", "testdata", "safety_numbers.json"))
	if err != nil {
		t.Fatal(err)
	}

	bob := signup(t, e, "bob")
	cb := bob.dial(t, e)
	b := newHeadless(t)
	run := b.run
	aliceName := fmt.Sprintf("alice%d", time.Now().UnixNano()%1e9)
	run("alice signs up in the browser",
		chromedp.Navigate(page),
		chromedp.WaitEnabled(chromedp.CSS("#login-submit")),
		chromedp.SendKeys(chromedp.CSS("#login-username"), aliceName),
		chromedp.SendKeys(chromedp.CSS("#login-password"), "correct horse battery"),
		chromedp.Click(chromedp.CSS("#signup")),
		chromedp.WaitVisible(`//span[@id="status"][text()="online"]`))

	// The vectors, in Chromium, with the client's own module.
	got := evalIn[[]string](b, `import("/safety.js").then(async (s) => {
		const f = `+string(vectors)+`;
		const h = (x) => Uint8Array.from(x.match(/../g) || [], (c) => parseInt(c, 16));
		const dev = (ds) => ds.map((d) => ({ publicKey: h(d.publicKey), signingKey: d.signingKey ? h(d.signingKey) : null }));
		const out = [];
		for (const v of f.vectors) out.push(v.name + " " + await s.safetyNumber(v.userA, h(v.keysA), v.userB, h(v.keysB)) + " " + v.safetyNumber);
		for (const v of f.devices) out.push(v.name + " " + await s.safetyNumber(v.userB, s.identityKeyBytes(dev(v.devicesB)), v.userA, s.identityKeyBytes(dev(v.devicesA))) + " " + v.safetyNumber);
		return out;
	})`)
	if len(got) < 3 {
		t.Fatalf("vectors in Chromium: %q", got)
	}
	for _, line := range got {
		f := strings.Fields(line)
		if len(f) < 2 || f[len(f)-1] != f[len(f)-2] {
			t.Errorf("vector in Chromium: %s (computed, then expected)", line)
		}
	}

	u, err := bob.sess.FindUser(ctx, aliceName)
	if err != nil {
		t.Fatal(err)
	}
	alice := u.UserID
	d, err := bob.sess.CreateConversation(ctx, client.KindDirect, []string{alice}, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cb.Send(ctx, d.ID, e2ee.Content{Text: "hello alice"}); err != nil {
		t.Fatal(err)
	}
	safetyWith := func(what string) string {
		t.Helper()
		b.eval("forget the number shown", `document.getElementById("safety-number").removeAttribute("data-number"), true`)
		run(what,
			chromedp.Click(fmt.Sprintf(`//li[@class="member"][@data-user=%q]/button[@class="safety"]`, bob.id)),
			chromedp.WaitVisible(`//p[@id="safety-number"][@data-number]`))
		return b.evalString(`document.getElementById("safety-number").dataset.number`)
	}
	run("alice opens bob's conversation and answers (her client learns bob's keys)",
		clickConv(d.ID),
		chromedp.WaitVisible(`//li[contains(@class,"theirs")]/div[@class="text"][text()="hello alice"]`),
		chromedp.SendKeys(chromedp.CSS("#composer"), "hi bob"),
		chromedp.Click(chromedp.CSS("#send")),
		chromedp.WaitVisible(`//li[contains(@class,"mine")]//span[@class="ticks"][@data-state!="sent"]`),
		chromedp.Click(chromedp.CSS("#group-info")))
	before := safetyWith("alice shows the safety number with bob")
	want, err := bob.sess.SafetyNumber(ctx, alice)
	if err != nil {
		t.Fatal(err)
	}
	if before != want || len(want) != 60 {
		t.Errorf("safety numbers: the browser shows %s, bob's Go client computes %s", before, want)
	}
	if shown := b.evalString(`document.getElementById("safety-number").textContent`); !strings.HasSuffix(shown, e2ee.FormatSafetyNumber(want)) {
		t.Errorf("shown as %q, want 12 groups of 5", shown)
	}
	if b.evalInt(`document.querySelectorAll("li.keychange").length`) != 0 {
		t.Error("a notice before any key changed")
	}

	// bob adds a device: a new identity key in his list.
	key, _ := e2ee.GenerateKey()
	if _, err := client.NewAccounts(e.p.AccountsURL(), nil).Login(ctx, client.LoginRequest{Username: bob.name,
		Password: "correct horse battery", PublicKey: key.PublicKey(), DeviceName: "tablet"}); err != nil {
		t.Fatal(err)
	}
	run("alice sends again: her client sees bob's new key and says so",
		chromedp.SendKeys(chromedp.CSS("#composer"), "are you there?"),
		chromedp.Click(chromedp.CSS("#send")),
		chromedp.WaitVisible(fmt.Sprintf(`//li[contains(@class,"keychange")][text()=%q]`, "🔐 "+bob.name+"'s security code changed")))
	after := safetyWith("alice shows the safety number with bob again")
	want2, err := bob.sess.SafetyNumber(ctx, alice)
	if err != nil {
		t.Fatal(err)
	}
	if after != want2 || after == before {
		t.Errorf("after bob's new device: the browser shows %s, bob computes %s (before: %s)", after, want2, before)
	}
}
