package e2e

import (
	"context"
	"encoding/base64"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/agentchat/agentchat/internal/modeltest"
	"github.com/agentchat/agentchat/internal/testenv"
	"github.com/agentchat/agentchat/sdk/client"
	"github.com/agentchat/agentchat/sdk/e2ee"
)

// gate paces a streamed answer by the test's progress: the model sends
// chunk i (i ≥ 1) only once the test has let it through.
type gate chan struct{}

func newGate() gate { return make(gate, 64) }

// let lets n more chunks through.
func (g gate) let(n int) {
	for range n {
		g <- struct{}{}
	}
}

// pace is a modeltest.Reply's Pace. It is bounded — the server's goroutine
// must end — but a test that stops letting chunks through fails long before.
func (g gate) pace(int) {
	select {
	case <-g:
	case <-time.After(3 * time.Minute):
	}
}

// TestAnswerSurvivesReconnect: partials of an answer in progress are kept
// (route, store/partials) and replayed to a device that connects in the
// middle of the answer, after its resume; the rest comes live. The model
// streams one word per chunk, and sends the next only when the test says,
// once what it waits for has shown.
//
//   - Go: carol's client sees the first chunks, closes; a new client of the
//     same device (a restarted CLI) gets every partial once, in index order
//     — the ones streamed before it existed and the rest live — and the
//     reply once.
//   - Browser: the page shows the text so far, reloads (a new document: its
//     state is gone, it logs in again and resumes), shows the same text
//     again — not twice —, then the rest as it streams, then the stored
//     reply, once, and no partial left.
func TestAnswerSurvivesReconnect(t *testing.T) {
	testenv.Env(t, "AGENTCHAT_TEST_CHROMIUM") // first: without a browser the test ends before the platform starts
	_, here, _, _ := runtime.Caller(0)
	webDir := filepath.Join(filepath.Dir(here), "..", "..", "web")

	model := modeltest.New()
	t.Cleanup(model.Close)
	key, _ := e2ee.GenerateKey()
	e := start(t, opts{functions: []string{"accounts", "persist", "route", "agent-invoke", "deadletter"}, webDir: webDir, envFor: map[string]map[string]string{
		"agent-invoke": {
			"OPENAI_BASE_URL": model.URL(), "OPENAI_API_KEY": "sk-test", "OPENAI_MODEL": "test-model",
			"AGENT_KEYS": "helper:" + base64.StdEncoding.EncodeToString(key.Bytes()),
			// Every chunk is a partial of its own, as soon as it comes.
			"AGENT_PARTIAL_INTERVAL": "0s",
		},
	}})
	ap := &agentPlatform{env: e, model: model, owner: signup(t, e, "owner"), keys: map[string]*e2ee.PrivateKey{"helper": key}}
	if _, err := ap.owner.sess.RegisterAgent(context.Background(), "Helper", "model", key.PublicKey(), "helper"); err != nil {
		t.Fatalf("register agent: %v", err)
	}
	goAnswer := "Once upon a time a client went away and came back for the rest"
	webAnswer := "Once upon a time there was a page that reloaded in the middle of a story"
	goGate, webGate := newGate(), newGate()
	model.Script(dispatch(map[string]func(modeltest.Request) modeltest.Reply{
		"[go]": func(modeltest.Request) modeltest.Reply {
			return modeltest.Reply{Chunks: modeltest.Words(goAnswer), Pace: goGate.pace}
		},
		"[web]": func(modeltest.Request) modeltest.Reply {
			return modeltest.Reply{Chunks: modeltest.Words(webAnswer), Pace: webGate.pace}
		},
	}))
	t.Cleanup(func() { goGate.let(32); webGate.let(32) })

	t.Run("go client", func(t *testing.T) {
		carol := signup(t, e, "carol")
		conv := ap.group(t, carol, "go", "helper")
		c1 := carol.dial(t, e)
		w1 := watch(c1)
		seq := send(t, c1, w1, conv, "[go] tell me a story")
		shown := func(w *watcher, index int) func() bool {
			return func() bool {
				for _, p := range w.activity(conv, client.AgentPartial) {
					if p.Index == index {
						return true
					}
				}
				return false
			}
		}
		goGate.let(2)
		testenv.Eventually(t, 30*time.Second, 10*time.Millisecond, shown(w1, 2), "the first client shows partial 2")
		if err := c1.Close(); err != nil {
			t.Fatal(err)
		}
		goGate.let(1) // streamed while carol is away

		c2 := carol.dial(t, e)
		w2 := watch(c2)
		testenv.Eventually(t, 30*time.Second, 10*time.Millisecond, shown(w2, 3), "the new client shows partials 0-3")
		// Where the answer stands came back too: the kept status, replayed.
		testenv.Eventually(t, 10*time.Second, 10*time.Millisecond, func() bool {
			for _, a := range w2.activity(conv, client.AgentStatus) {
				if a.ReplyTo == seq && a.State == client.StatusStreaming {
					return true
				}
			}
			return false
		}, "the new client shows the answer streaming")
		goGate.let(len(modeltest.Words(goAnswer)))
		testenv.Eventually(t, 30*time.Second, 10*time.Millisecond, func() bool {
			return len(w2.messages(conv, "helper")) > 0 && len(w2.activity(conv, client.AgentDone)) > 0
		}, "the reply and done")

		var text strings.Builder
		parts := w2.activity(conv, client.AgentPartial)
		for i, p := range parts {
			if p.Index != i || p.ReplyTo != seq {
				t.Errorf("partial #%d: index %d replyTo %d, want index %d replyTo %d (each once, in order)", i, p.Index, p.ReplyTo, i, seq)
			}
			text.WriteString(p.Content.Text)
		}
		// Brokers deliver events concurrently (the dev runner's and
		// Knative's), so the last partials may reach route after the
		// answer's done, which drops them: the stored reply carries the
		// whole text. What the new client got must be the answer's start,
		// at least through the partials streamed while it was away.
		if got := text.String(); !strings.HasPrefix(goAnswer, got) || len(parts) < 4 {
			t.Errorf("the partials make %q (%d), want the start of %q, at least 4 partials", got, len(parts), goAnswer)
		}
		if r := w2.messages(conv, "helper"); len(r) != 1 || r[0].Content.Text != goAnswer || r[0].Content.ReplyTo != seq {
			t.Errorf("replies %d, want 1 with the whole answer", len(r))
		}
		if n := ap.requestsTagged("[go]"); n != 1 {
			t.Errorf("model requests %d, want 1", n)
		}
	})

	t.Run("browser reload", func(t *testing.T) {
		page := strings.Replace(strings.TrimSuffix(e.p.ConnectorURLs()[0], "/ws"), "ws://", "http://", 1) + "/"
		b := newHeadless(t)
		ctx := b.ctx
		run := func(what string, steps ...chromedp.Action[chromedp.Void]) {
			t.Helper()
			b.run(what, steps...)
		}
		// partial is the text of the answer being streamed, as shown.
		partial := func() string {
			t.Helper()
			c, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			s, err := chromedp.Run(c, chromedp.Evaluate[string](
				`[...document.querySelectorAll("li.msg.partial")].map((li) => li.textContent).join("|")`))
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		// shows waits until the answer being streamed shows exactly text.
		shows := func(what, text string) {
			t.Helper()
			run(what, chromedp.WaitVisible(fmt.Sprintf(`//li[contains(@class,"partial")][substring(., string-length(.) - %d) = ": %s…"]`,
				len([]rune(": "+text+"…"))-1, text)))
			if got := partial(); !strings.HasSuffix(got, ": "+text+"…") || strings.Count(got, "|") > 0 {
				t.Fatalf("%s: the partial answer shows %q, want one ending %q", what, got, ": "+text+"…")
			}
		}
		alice := fmt.Sprintf("alice%d", time.Now().UnixNano()%1e9)
		run("sign up in the browser",
			chromedp.Navigate(page),
			chromedp.WaitEnabled(chromedp.CSS("#login-submit")),
			chromedp.SendKeys(chromedp.CSS("#login-username"), alice),
			chromedp.SendKeys(chromedp.CSS("#login-password"), "correct horse battery"),
			chromedp.Click(chromedp.CSS("#signup")),
			chromedp.WaitVisible(`//span[@id="status"][text()="online"]`),
		)
		run("start a chat with the agent and ask",
			chromedp.SendKeys(chromedp.CSS("#new-chat-name"), "helper"),
			chromedp.Click(chromedp.CSS("#new-chat")),
			chromedp.WaitVisible(chromedp.CSS(".conv.current")),
			chromedp.WaitEnabled(chromedp.CSS("#composer")),
			chromedp.SendKeys(chromedp.CSS("#composer"), "[web] tell me a story"),
			chromedp.Click(chromedp.CSS("#send")),
		)
		words := modeltest.Words(webAnswer)
		webGate.let(3)
		shows("the first four words stream", strings.Join(words[:4], ""))
		// The agent's lifecycle status, under the messages: it is answering.
		run("the status line says the agent is answering",
			chromedp.WaitVisible(`//div[@id="agent-status"]/div[@data-state="streaming"][contains(., "is answering")]`))

		run("reload, log in again, open the conversation",
			chromedp.Reload(),
			chromedp.WaitVisible(chromedp.CSS("#login-username")),
			chromedp.WaitEnabled(chromedp.CSS("#login-submit")),
			chromedp.SetValue(chromedp.CSS("#login-username"), alice),
			chromedp.SetValue(chromedp.CSS("#login-password"), "correct horse battery"),
			chromedp.Click(chromedp.CSS("#login-submit")),
			chromedp.WaitVisible(chromedp.CSS(".conv")),
			chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
				_, err := chromedp.Evaluate[bool](`(document.querySelector(".conv").click(), true)`)(ctx, tg)
				return err
			}),
			chromedp.WaitVisible(`//li[contains(@class,"mine")]/div[@class="text"][text()="[web] tell me a story"]`),
		)
		shows("after the reload: the text so far, once", strings.Join(words[:4], ""))
		run("and the status line again (replayed)",
			chromedp.WaitVisible(`//div[@id="agent-status"]/div[@data-state="streaming"][contains(., "is answering")]`))
		webGate.let(1)
		shows("then the next word, live", strings.Join(words[:5], ""))
		webGate.let(len(words))
		run("the stored reply",
			chromedp.WaitVisible(fmt.Sprintf(`//li[contains(@class,"theirs")]/div[@class="text"][text()=%q]`, webAnswer)))
		c, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		n, err := chromedp.Run(c, chromedp.Evaluate[int](fmt.Sprintf(
			`[...document.querySelectorAll("li.msg.theirs .text")].filter((d) => d.textContent === %q).length`, webAnswer)))
		if err != nil {
			t.Fatal(err)
		}
		if got := partial(); n != 1 || got != "" {
			t.Errorf("the reply shows %d times (want 1), partial answer %q left (want none)", n, got)
		}
		if left, err := chromedp.Run(c, chromedp.Evaluate[string](`document.getElementById("agent-status").textContent`)); err != nil || left != "" {
			t.Errorf("the status line after the reply = %q (%v), want none", left, err)
		}
		if n := ap.requestsTagged("[web]"); n != 1 {
			t.Errorf("model requests %d, want 1", n)
		}
	})
}
