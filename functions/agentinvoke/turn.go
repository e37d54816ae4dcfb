package function

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/agentchat/agentchat/sdk/agent"
	"github.com/agentchat/agentchat/sdk/e2ee"
	"github.com/agentchat/agentchat/sdk/events"
)

// turn is one attempt at one call, run by the instance that holds the
// attempt. Its steps, and what a crash after each leaves behind:
//
//  1. read the ledger (a takeover only): an outcome → deliver it again;
//     the sent marker without an outcome → the previous owner may have
//     had the request in flight: fail with "interrupted", never call again;
//  2. open the message, read the history, wait for a call slot — a crash
//     here leaves no sent marker, so the next attempt calls the model;
//  3. insert the sent marker (only one attempt can), call the model,
//     stream partials — a crash here is step 1's "interrupted";
//  4. seal the reply for the invoke's audience and insert it as the
//     outcome (only one outcome can exist) — from here on every attempt
//     posts that very reply;
//  5. post the reply and keep the call for AGENT_CONFIRM_TIMEOUT: persist's
//     answer (outcome.go) finishes it; without one, a sweep posts it again.
type turn struct {
	f     *Function
	d     *deps
	k     callKey
	n     int                 // the attempt this instance holds
	inv   *events.AgentInvoke // the invoke: from the broker, or read from the ledger
	fresh bool                // attempt 1, just claimed: the ledger holds nothing else yet
	log   *slog.Logger
	// holdUntil, when set, is how long the attempt keeps its lease after
	// the turn ends (a posted reply waiting for persist's answer).
	holdUntil time.Time
}

// finishTimeout bounds the steps after the model call (deciding and
// delivering the outcome), which run even when the instance is stopping.
const finishTimeout = time.Minute

func (t *turn) run(ctx context.Context) {
	stop := t.keepLease(ctx)
	defer stop()
	if !t.fresh {
		st, err := t.d.ledger.State(ctx, t.k)
		if err != nil {
			t.log.Warn("agent-invoke: read the ledger", "err", err)
			return
		}
		switch {
		case st.Outcome != nil:
			t.deliver(ctx, *st.Outcome)
			return
		case st.Sent && st.Completion != "" && t.d.cfg.modelFor(t.k.Agent).Store:
			// The endpoint was generating an answer it stores: read it
			// rather than ask again.
			t.resume(ctx, st.Completion)
			return
		case st.Sent:
			// The previous owner died (or stalled) after it may have sent
			// the request: calling again could call the model twice.
			t.log.Warn("agent-invoke: the previous attempt may have reached the model: failing visibly")
			t.fail(ctx, codeInterrupted, "the agent was interrupted while answering; ask again", true)
			return
		}
	}
	t.answer(ctx)
}

// answer is steps 2 to 5 for a call no request was sent for yet.
func (t *turn) answer(ctx context.Context) {
	id, ok := t.identify(ctx)
	if !ok {
		return
	}
	msg := t.inv.Message
	t.send(ctx, "typing", func() (event.Event, error) { return id.Typing(t.k.Conversation, events.TypingThinking) })
	content, err := id.Open(msg)
	if err != nil {
		t.log.Warn("agent-invoke: the message does not open with the agent's key", "err", err)
		t.fail(ctx, agent.CodeUnreadable, "the agent could not read this message", false)
		return
	}
	recipients, err := msg.Audience.Recipients()
	if err != nil { // Decode checked it: only a ledger from before audiences
		t.fail(ctx, agent.CodeUnreadable, "the agent could not read this message", false)
		return
	}
	cfg := t.d.cfg.modelFor(t.k.Agent)
	history := t.history(ctx, id, msg, cfg.Context)
	req := modelRequest{Config: cfg, Messages: make([]chatMessage, 0, len(history)+2)}
	if cfg.SystemPrompt != "" {
		req.Messages = append(req.Messages, chatMessage{Role: roleSystem, Content: cfg.SystemPrompt})
	}
	req.Messages = append(append(req.Messages, history...), chatMessage{Role: roleUser, Content: contentText(content)})

	select {
	case t.d.slots <- struct{}{}:
		defer func() { <-t.d.slots }()
	case <-t.d.stopping:
		t.log.Info("agent-invoke: stopping before the call: handing it over")
		return
	case <-ctx.Done():
		return
	}
	sent, err := t.d.ledger.MarkSent(ctx, t.k, t.n)
	if err != nil || !sent {
		t.log.Warn("agent-invoke: not calling the model", "err", err, "sentByAnother", err == nil)
		return
	}
	text, merr := t.call(ctx, req, id, recipients)
	if merr != nil {
		t.log.Warn("agent-invoke: model call failed", "code", merr.Code, "err", merr.Err)
		t.fail(ctx, merr.Code, merr.Message, merr.Retryable)
		return
	}
	if strings.TrimSpace(text) == "" {
		t.fail(ctx, codeEmptyAnswer, "the model gave no answer", true)
		return
	}
	t.reply(ctx, id, text, recipients)
}

// errNoInvoke: the call's invoke is in no ledger entry (a call claimed
// before invokes carried their audience). Nothing can be answered.
var errNoInvoke = errors.New("agent-invoke: the call has no invoke to answer")

// self loads the invoke if this attempt did not get it from the broker,
// and returns the agent as it acts in the conversation: its device in the
// invoke's audience, its key checked against it. On an *agent.ConfigError
// the device is still named when known, to report the failure.
func (t *turn) self(ctx context.Context) (agent.Self, error) {
	if t.inv == nil {
		inv, ok, err := t.d.ledger.Invoke(ctx, t.k)
		switch {
		case err != nil:
			return agent.Self{}, err
		case !ok || inv.Message.Audience == nil:
			return agent.Self{}, errNoInvoke
		}
		t.inv = &inv
	}
	return agent.Identify(t.d.cfg.Keys[t.k.Agent], kindModel, t.inv.Message.Audience)
}

// identify is self for a turn about to answer: a call that cannot be
// answered here fails visibly; false also when the ledger could not be
// read (the next attempt tries again).
func (t *turn) identify(ctx context.Context) (agent.Self, bool) {
	id, err := t.self(ctx)
	var ce *agent.ConfigError
	switch {
	case err == nil:
		return id, true
	case errors.Is(err, errNoInvoke):
		t.log.Error("agent-invoke: the call has no invoke to answer")
		t.fail(ctx, agent.CodeUnreadable, "the message to answer was not found", false)
	case errors.As(err, &ce):
		t.log.Error("agent-invoke: agent not set up", "reason", ce.Reason)
		t.fail(ctx, agent.CodeNotConfigured, "this agent is not set up on its runtime", false)
	default:
		t.log.Warn("agent-invoke: read the call's invoke", "err", err)
	}
	return agent.Self{}, false
}

// resume finishes a call whose request an earlier attempt sent and whose
// answer the endpoint stores under completion: it reads the stored answer
// (polling while the endpoint is still generating it, up to
// AGENT_CALL_TIMEOUT) and replies with it. The model is not called again.
func (t *turn) resume(ctx context.Context, completion string) {
	id, ok := t.identify(ctx)
	if !ok {
		return
	}
	recipients, err := t.inv.Message.Audience.Recipients()
	if err != nil {
		t.fail(ctx, agent.CodeUnreadable, "the agent could not read this message", false)
		return
	}
	cfg := t.d.cfg.modelFor(t.k.Agent)
	ctx, cancel := context.WithTimeout(ctx, t.d.cfg.CallTimeout)
	defer cancel()
	t.log.Info("agent-invoke: the previous attempt died mid-answer: reading the stored answer", "completion", completion)
	for wait := 500 * time.Millisecond; ; wait = min(2*wait, 10*time.Second) {
		t.f.stats.retrievals.Add(1)
		text, found, err := t.d.model.Retrieve(ctx, cfg, completion)
		switch {
		case found && strings.TrimSpace(text) == "":
			t.fail(ctx, codeEmptyAnswer, "the model gave no answer", true)
			return
		case found:
			t.reply(ctx, id, text, recipients)
			return
		case err != nil:
			t.log.Warn("agent-invoke: read the stored answer", "err", err)
		}
		if sleep(ctx, wait) != nil {
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				t.fail(context.WithoutCancel(ctx), codeInterrupted, "the agent was interrupted while answering; ask again", true)
			}
			return
		}
	}
}

// reply seals the answer for the invoke's audience — the devices persist
// wants when the message was stored; should they have changed during the
// call, persist's rejection carries the new audience and the reply is
// sealed again (outcome.go) — records it as the outcome and delivers
// whichever outcome holds.
func (t *turn) reply(ctx context.Context, id agent.Self, text string, recipients []e2ee.Recipient) {
	bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
	defer cancel()
	env, err := id.SealReply(t.k.Conversation, t.k.Seq, e2ee.Content{Text: text}, recipients)
	if err != nil {
		t.log.Error("agent-invoke: seal the reply", "err", err)
		t.fail(ctx, codeModelError, "the agent could not send its answer", true)
		return
	}
	held, err := t.decide(bg, outcome{State: stateReplied, Envelope: env, Attempt: t.n})
	if err != nil {
		t.log.Error("agent-invoke: record the reply: it is lost, the next attempt reports interrupted", "err", err)
		return
	}
	t.deliver(ctx, held)
}

// fail records a failed outcome (unless another is recorded already) and
// delivers whichever holds.
func (t *turn) fail(ctx context.Context, code, message string, retryable bool) {
	bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
	defer cancel()
	held, err := t.decide(bg, outcome{State: stateFailed, Code: code, Message: message, Retryable: retryable, Attempt: t.n})
	if err != nil {
		t.log.Error("agent-invoke: record the failure", "code", code, "err", err)
		return
	}
	t.deliver(ctx, held)
}

// decide inserts o, retrying while MongoDB fails: after a model call the
// answer exists nowhere else.
func (t *turn) decide(ctx context.Context, o outcome) (outcome, error) {
	var err error
	for wait := 200 * time.Millisecond; ; wait *= 2 {
		var held outcome
		if held, _, err = t.d.ledger.Decide(ctx, t.k, o); err == nil {
			return held, nil
		}
		if sleep(ctx, wait) != nil {
			return o, err
		}
	}
}

// call sends the request — again only when the endpoint refused it
// without running it (429, 503, no connection), with backoff — and
// streams partials. The sent marker covers every try: a crash between
// tries fails visibly too.
func (t *turn) call(ctx context.Context, req modelRequest, id agent.Self, rs []e2ee.Recipient) (string, *modelError) {
	ctx, cancel := context.WithTimeout(ctx, t.d.cfg.CallTimeout)
	defer cancel()
	p := &partials{t: t, ctx: ctx, id: id, rs: rs, every: t.d.cfg.PartialInterval}
	defer p.flush()
	started := func(completion string) {
		if err := t.d.ledger.MarkStarted(ctx, t.k, t.n, completion); err != nil {
			t.log.Warn("agent-invoke: record the completion id (a crash now fails as interrupted)", "err", err)
		}
	}
	if !req.Config.Store {
		started = nil // nothing to read back after a crash
	}
	for try := 0; ; try++ {
		t.f.stats.requests.Add(1)
		text, err := t.d.model.Stream(ctx, req, started, p.add)
		if err == nil {
			return text, nil
		}
		me := (*modelError)(nil)
		if !errors.As(err, &me) {
			me = &modelError{Code: codeModelError, Message: "the model could not answer", Retryable: true, Err: err}
		}
		if !me.Refused || try >= t.d.cfg.Retries {
			return "", me
		}
		wait := backoff(try, me.RetryAfter)
		t.log.Info("agent-invoke: the model refused the request: trying again", "code", me.Code, "try", try+1, "in", wait.String())
		if sleep(ctx, wait) != nil {
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return "", &modelError{Code: me.Code, Message: me.Message, Retryable: true, Err: me.Err}
			}
			return "", &modelError{Code: codeInterrupted, Message: "the agent was interrupted; ask again", Retryable: true, Err: ctx.Err()}
		}
	}
}

// backoff is what the endpoint asked for (at most a minute), else 1 s
// doubling per try up to 30 s.
func backoff(try int, retryAfter time.Duration) time.Duration {
	if retryAfter > 0 {
		return min(retryAfter, time.Minute)
	}
	return min(time.Second<<try, 30*time.Second)
}

// keepLease renews the attempt's lease every third of AGENT_LEASE until
// the returned func is called, which stops renewing and hands the lease
// back (so that an unfinished call is taken over at the next sweep rather
// than a lease later) — or keeps it until holdUntil, while a posted reply
// waits for persist's answer.
func (t *turn) keepLease(ctx context.Context) func() {
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(t.d.cfg.Lease / 3)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				c, cancel := context.WithTimeout(ctx, t.d.cfg.Lease/3)
				if err := t.d.ledger.Renew(c, t.k, t.n, t.f.owner, time.Now().Add(t.d.cfg.Lease)); err != nil {
					t.log.Warn("agent-invoke: renew the lease", "err", err)
				}
				cancel()
			case <-stop:
				return
			}
		}
	}()
	return func() {
		close(stop)
		<-done
		c, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		until := time.Now()
		if t.holdUntil.After(until) {
			until = t.holdUntil
		}
		if err := t.d.ledger.Renew(c, t.k, t.n, t.f.owner, until); err != nil {
			t.log.Warn("agent-invoke: hand the lease back", "err", err)
		}
	}
}

// send posts one event, best effort: typing and partials are ephemeral.
func (t *turn) send(ctx context.Context, what string, build func() (event.Event, error)) bool {
	e, err := build()
	if err == nil {
		err = t.d.sink.Send(ctx, e)
	}
	if err != nil {
		t.log.Warn("agent-invoke: post "+what, "err", err)
		return false
	}
	return true
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
