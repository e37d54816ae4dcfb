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
	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/fn"
)

// signer is a person whose device has a signing key, registered at login
// (LoginRequest.SigningKey) as a current client does.
type signer struct {
	*person
	signing *e2ee.SigningKey
}

func signedSignup(t *testing.T, e *env, name string) *signer {
	t.Helper()
	p := signup(t, e, name) // logs in without a signing key: an old client's device
	k, err := e2ee.GenerateSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.sess.SetSigningKey(context.Background(), p.sess.DeviceID(), p.id, p.key.PublicKeyBytes(), k); err != nil {
		t.Fatalf("register %s's signing key: %v", p.name, err)
	}
	return &signer{person: p, signing: k}
}

func (s *signer) dial(t *testing.T, e *env) *client.Client {
	t.Helper()
	c, err := client.Dial(context.Background(), client.Config{URLs: e.p.ConnectorURLs(), Token: s.sess.Token, User: s.id,
		Device: s.sess.DeviceID(), Key: s.key, SigningKey: s.signing, Directory: s.sess, AutoDeliveredAck: true})
	if err != nil {
		t.Fatalf("dial %s: %v", s.name, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestSignedMessages: through the whole platform (connector, persist,
// MongoDB, route, sync), Alice's signed message reaches Bob verified, and
// messages injected as Alice's — a valid envelope posted straight to the
// broker, as anyone who can write to the pipeline could, unsigned or signed
// by another key — reach him readable but unverified; so do those of a
// device without a signing key. A later sync brings the same verdicts.
func TestSignedMessages(t *testing.T) {
	e := start(t, opts{functions: spineFunctions})
	ctx := context.Background()
	alice, bob := signedSignup(t, e, "alice"), signedSignup(t, e, "bob")
	carol := signup(t, e, "carol") // an old client: no signing key
	conv, err := alice.sess.CreateConversation(ctx, "group", []string{alice.id, bob.id, carol.id}, "signed")
	if err != nil {
		t.Fatal(err)
	}
	ca, cb, cc := alice.dial(t, e), bob.dial(t, e), carol.dial(t, e)
	wb := watch(cb)

	if _, err := ca.Send(ctx, conv.ID, e2ee.Content{Text: "genuine from alice"}); err != nil {
		t.Fatal(err)
	}
	if _, err := cc.Send(ctx, conv.ID, e2ee.Content{Text: "from carol's old client"}); err != nil {
		t.Fatal(err)
	}
	// The forger knows every device's public key (the directory is
	// public to members) and seals a perfectly valid envelope as Alice's
	// device; it has no key of hers to sign with.
	rs, err := bob.sess.ConversationDevices(ctx, conv.ID)
	if err != nil {
		t.Fatal(err)
	}
	mallory, _ := e2ee.GenerateSigningKey()
	broker, err := fn.NewSink("e2e", e.p.BrokerURL())
	if err != nil {
		t.Fatal(err)
	}
	inject := func(id, text string, sign *e2ee.SigningKey) {
		plain, _ := e2ee.Content{Text: text}.Marshal()
		env, err := e2ee.Seal(plain, e2ee.AssociatedData{Conversation: conv.ID, SenderDevice: alice.sess.DeviceID(), ClientMessageID: id}, rs)
		if err != nil {
			t.Fatal(err)
		}
		if sign != nil {
			e2ee.SignEnvelope(env, conv.ID, alice.sess.DeviceID(), sign)
		}
		ev, err := events.NewMessageSent(events.SourceConnectorPrefix+"forger", conv.ID, alice.id, alice.sess.DeviceID(),
			events.MessageSent{ClientMessageID: id, Envelope: env})
		if err != nil {
			t.Fatal(err)
		}
		if err := broker.Send(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	inject("forged-unsigned", "forged, unsigned", nil)
	inject("forged-otherkey", "forged, signed by another key", mallory)

	want := map[string]bool{
		"genuine from alice":            true,
		"from carol's old client":       false,
		"forged, unsigned":              false,
		"forged, signed by another key": false,
	}
	check := func(what string, got func() map[string]bool) {
		t.Helper()
		var last map[string]bool
		testenv.Eventually(t, 30*time.Second, 20*time.Millisecond, func() bool {
			last = got()
			return len(last) == len(want)
		}, "%s: bob has %v, want %v", what, last, want)
		for text, v := range want {
			if last[text] != v {
				t.Errorf("%s: %q Verified = %v, want %v", what, text, last[text], v)
			}
		}
	}
	check("live", func() map[string]bool {
		out := map[string]bool{}
		for _, from := range []string{alice.id, carol.id} {
			for _, m := range wb.messages(conv.ID, from) {
				out[m.Content.Text] = m.Verified
			}
		}
		return out
	})
	// Bob's device again, from nothing: the stored messages come back by
	// resume and sync (MongoDB kept each sig, or its absence).
	cb.Close()
	wb2 := watch(bob.dial(t, e))
	check("after a restart", func() map[string]bool {
		out := map[string]bool{}
		for _, from := range []string{alice.id, carol.id} {
			for _, m := range wb2.messages(conv.ID, from) {
				out[m.Content.Text] = m.Verified
			}
		}
		return out
	})
}

// TestWebSignedMessages: the browser signs what it sends (Bob's Go client
// verifies it) and verifies what it gets: Bob's signed message shows
// plainly, messages injected as Bob's — unsigned, or signed by another
// key — show with a visible "unverified" mark, never as plainly his.
func TestWebSignedMessages(t *testing.T) {
	testenv.Env(t, "AGENTCHAT_TEST_CHROMIUM")
	_, here, _, _ := runtime.Caller(0)
	e := start(t, opts{functions: spineFunctions, webDir: filepath.Join(filepath.Dir(here), "..", "..", "web")})
	page := strings.Replace(strings.TrimSuffix(e.p.ConnectorURLs()[0], "/ws"), "ws://", "http://", 1) + "/"
	ctx := context.Background()
	bob := signedSignup(t, e, "bob")
	cb := bob.dial(t, e)
	wb := watch(cb)

	b := newHeadless(t)
	run := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		b.runShowing(what, `document.getElementById("messages")?.innerText ?? ""`, steps...)
	}
	alice := fmt.Sprintf("alice%d", time.Now().UnixNano()%1e9)
	run("sign up in the browser, chat with bob, send",
		chromedp.Navigate(page),
		chromedp.WaitEnabled(chromedp.CSS("#login-submit")),
		chromedp.SendKeys(chromedp.CSS("#login-username"), alice),
		chromedp.SendKeys(chromedp.CSS("#login-password"), "correct horse battery"),
		chromedp.Click(chromedp.CSS("#signup")),
		chromedp.WaitVisible(`//span[@id="status"][text()="online"]`),
		chromedp.SendKeys(chromedp.CSS("#new-chat-name"), bob.name),
		chromedp.Click(chromedp.CSS("#new-chat")),
		chromedp.WaitEnabled(chromedp.CSS("#composer")),
		chromedp.SendKeys(chromedp.CSS("#composer"), "signed in the browser"),
		chromedp.Click(chromedp.CSS("#send")),
	)
	var from *client.Message
	testenv.Eventually(t, 30*time.Second, 20*time.Millisecond, func() bool {
		wb.mu.Lock()
		defer wb.mu.Unlock()
		for _, ev := range wb.evs {
			if m, ok := ev.(*client.Message); ok && m.Content.Text == "signed in the browser" {
				from = m
				return true
			}
		}
		return false
	}, "bob receives the browser's message")
	if !from.Verified {
		t.Errorf("the browser's message is not verified by bob's Go client")
	}
	conv := from.Conversation

	if _, err := cb.Send(ctx, conv, e2ee.Content{Text: "genuine from bob"}); err != nil {
		t.Fatal(err)
	}
	rs, err := bob.sess.ConversationDevices(ctx, conv)
	if err != nil {
		t.Fatal(err)
	}
	broker, err := fn.NewSink("e2e", e.p.BrokerURL())
	if err != nil {
		t.Fatal(err)
	}
	mallory, _ := e2ee.GenerateSigningKey()
	for id, sign := range map[string]*e2ee.SigningKey{"forged-unsigned": nil, "forged-otherkey": mallory} {
		text := map[string]string{"forged-unsigned": "forged, unsigned", "forged-otherkey": "forged, signed by another key"}[id]
		plain, _ := e2ee.Content{Text: text}.Marshal()
		env, err := e2ee.Seal(plain, e2ee.AssociatedData{Conversation: conv, SenderDevice: bob.sess.DeviceID(), ClientMessageID: id}, rs)
		if err != nil {
			t.Fatal(err)
		}
		if sign != nil {
			e2ee.SignEnvelope(env, conv, bob.sess.DeviceID(), sign)
		}
		ev, err := events.NewMessageSent(events.SourceConnectorPrefix+"forger", conv, bob.id, bob.sess.DeviceID(),
			events.MessageSent{ClientMessageID: id, Envelope: env})
		if err != nil {
			t.Fatal(err)
		}
		if err := broker.Send(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	bubble := func(text string, unverified bool) string {
		cond := `not(contains(@class,"unverified"))`
		if unverified {
			cond = `contains(@class,"unverified") and .//span[@class="unverified-mark"]`
		}
		return `//li[contains(@class,"theirs") and ` + cond + `][div[@class="text"][text()="` + text + `"]]`
	}
	run("bob's message shows plainly, the forged ones marked unverified",
		chromedp.WaitVisible(bubble("genuine from bob", false)),
		chromedp.WaitVisible(bubble("forged, unsigned", true)),
		chromedp.WaitVisible(bubble("forged, signed by another key", true)),
		chromedp.WaitVisible(`//li[contains(@class,"mine") and not(contains(@class,"unverified"))]/div[@class="text"][text()="signed in the browser"]`),
	)
	// Exactly one bubble of bob's is plain: the genuine one.
	n, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`document.querySelectorAll("#messages li.theirs:not(.unverified)").length`))
	if err != nil || n != 1 {
		t.Errorf("bubbles of bob's shown as verified: %d (%v), want 1", n, err)
	}
}

// TestAgentRepliesSigned: agents sign their replies with the key derived
// from their AGENT_KEYS key, which their owner registered: the calculator
// agent's answer (its own function) and the model agent's (agent-invoke)
// reach a member verified.
func TestAgentRepliesSigned(t *testing.T) {
	ap := startAgents(t, nil)
	alice := signedSignup(t, ap.env, "alice")
	ca := alice.dial(t, ap.env)
	wa := watch(ca)
	for agent, ask := range map[string]string{"calc": "2+2", "helper": "hello helper"} {
		conv := ap.group(t, alice.person, agent, agent)
		seq := send(t, ca, wa, conv, ask)
		var reply *client.Message
		testenv.Eventually(t, 30*time.Second, 20*time.Millisecond, func() bool {
			for _, m := range wa.messages(conv, agent) {
				if m.Content.ReplyTo == seq {
					reply = m
					return true
				}
			}
			return false
		}, "%s answers", agent)
		if !reply.Verified {
			t.Errorf("%s's reply %q is not verified", agent, reply.Content.Text)
		}
	}
}
