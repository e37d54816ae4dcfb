package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/agentchat/agentchat/internal/testenv"
)

// headless is the test's own headless Chromium (AGENTCHAT_TEST_CHROMIUM,
// a fresh profile), started at once, closed when the test ends; the page's
// console warnings and errors go to the test's log.
type headless struct {
	t   *testing.T
	ctx context.Context // no deadline: each step takes its own (run)
}

// newHeadless starts it; flags add to the defaults (e.g. a fake
// microphone).
func newHeadless(t *testing.T, flags ...chromedp.ExecAllocatorOption) *headless {
	t.Helper()
	chromium := testenv.Env(t, "AGENTCHAT_TEST_CHROMIUM")
	opts := append([]chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
	}, flags...)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc, chromedp.WithErrorf(t.Logf))
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range chromedp.Console(ctx) {
			if err != nil {
				return
			}
			if m.Type != chromedp.ConsoleDebug && m.Type != chromedp.ConsoleLog {
				t.Logf("browser console: %s", m)
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return &headless{t: t, ctx: ctx}
}

// run does steps within a minute, or fails the test with what and the
// page's text.
func (b *headless) run(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	b.runShowing(what, "", steps...)
}

// runShowing is run that also shows what extra, a JavaScript expression,
// evaluates to when a step fails.
func (b *headless) runShowing(what, extra string, steps ...chromedp.Action[chromedp.Void]) {
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

// evalIn evaluates expr in the page (awaiting a promise) within a minute.
func evalIn[T any](b *headless, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, time.Minute)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

func (b *headless) eval(what, expr string)        { b.t.Helper(); evalIn[bool](b, expr) }
func (b *headless) evalBool(expr string) bool     { b.t.Helper(); return evalIn[bool](b, expr) }
func (b *headless) evalInt(expr string) int       { b.t.Helper(); return evalIn[int](b, expr) }
func (b *headless) evalString(expr string) string { b.t.Helper(); return evalIn[string](b, expr) }
