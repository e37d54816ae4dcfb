package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/agentchat/agentchat/internal/testenv"
)

// headless is the test's own headless Chromium (AGENTCHAT_TEST_CHROMIUM,
// a fresh profile), started at once, closed when the test ends.
type headless struct {
	t   *testing.T
	ctx context.Context // no deadline: each step takes its own (run)
}

func newHeadless(t *testing.T) *headless {
	t.Helper()
	chromium := testenv.Env(t, "AGENTCHAT_TEST_CHROMIUM")
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromium), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true))
	ctx, cancel := chromedp.NewContext(alloc, chromedp.WithErrorf(t.Logf))
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil { // starts the headless
		t.Fatal(err)
	}
	return &headless{t: t, ctx: ctx}
}

// run does steps within a minute, or fails the test with what and the
// page's text (plus what extra, a JavaScript expression, evaluates to).
func (b *headless) run(what, extra string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	step, cancel := context.WithTimeout(b.ctx, time.Minute)
	defer cancel()
	began := time.Now()
	if err := chromedp.Do(step, steps...); err != nil {
		shotCtx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		defer cancel()
		expr := `document.body.innerText`
		if extra != "" {
			expr += ` + "\n" + (` + extra + `)`
		}
		shot, _ := chromedp.Run(shotCtx, chromedp.Evaluate[string](expr))
		b.t.Fatalf("%s: %v\npage text:\n%s", what, err, shot)
	}
	b.t.Logf("%s: %v", what, time.Since(began).Round(time.Millisecond))
}
