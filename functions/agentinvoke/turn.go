package function

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
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
//  2. check the token budgets (over budget: fail with budget_reached, no
//     request), open the message, read the history, wait for a call slot
//     — a crash here leaves no sent marker, so the next attempt calls
//     the model;
//  3. insert the sent marker (only one attempt can), call the model —
//     moving to the agent's next endpoint when one refuses, fails with a
//     5xx or does not start answering: still the one call —, stream
//     partials, record the usage — a crash here is step 1's "interrupted";
//  4. seal the reply for the invoke's audience and insert it as the
//     outcome (only one outcome can exist) — from here on every attempt
//     posts that very reply;
//  5. post the reply and keep the call for AGENT_CONFIRM_TIMEOUT: persist's
//     answer (outcome.go) finishes it; without one, a sweep posts it again.
//
// When the model answers a request with tool calls (tools.go), step 3
// repeats: the calls are recorded, the tools run (once per call id), and
// the results go back to the model in the next request of the same call,
// behind a sent marker of its own. A crash while the tools run leaves the
// calls and the results recorded so far: the next attempt rebuilds the
// requests from the ledger and goes on from there (continueTools); a
// crash while a later request is in flight is step 1's "interrupted".
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
	// Lifecycle receipts (lifecycle.go): whether the call arrived while
	// the instance was waking, how many statuses the turn sent, the last.
	waking     bool
	statuses   int
	lastStatus string
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
		case len(st.Steps) > 0 && st.StepSent < len(st.Steps):
			// The previous owner died while the tools of its last request
			// ran: the request after them was not sent.
			t.continueTools(ctx, st)
			return
		case len(st.Steps) == 0 && st.Sent && st.Completion != "" && t.d.cfg.modelFor(t.k.Agent).Store:
			// The endpoint was generating an answer it stores: read it
			// rather than ask again.
			t.resume(ctx, st.Completion, st.Endpoint)
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
	if !ok || t.skip(ctx, id) { // a reaction, a delete: nothing to answer (asks.go)
		return
	}
	cfg := t.d.cfg.modelFor(t.k.Agent)
	if !t.withinBudget(ctx, cfg) {
		return
	}
	if t.waking {
		t.status(ctx, id, events.StatusWaking)
	}
	t.send(ctx, "typing", func() (event.Event, error) { return id.Typing(t.k.Conversation, events.TypingThinking) })
	req, recipients, ok := t.prepare(ctx, id, cfg)
	if !ok {
		return
	}
	mt := t.openMCP(ctx, cfg)
	defer mt.close()
	req.Tools = append(req.Tools, mt.specs...)
	release, ok := t.slot(ctx, id)
	if !ok {
		return
	}
	defer release()
	sent, err := t.d.ledger.MarkSent(ctx, t.k, t.n)
	if err != nil || !sent {
		t.log.Warn("agent-invoke: not calling the model", "err", err, "sentByAnother", err == nil)
		return
	}
	t.converse(ctx, cfg, req, id, recipients, 0, mt)
}

// prepare opens the message and builds the call's first request: the
// system prompt, the history the agent can read, the message, the tools.
// false: the call failed visibly (the message does not open).
func (t *turn) prepare(ctx context.Context, id agent.Self, cfg modelConfig) (modelRequest, []e2ee.Recipient, bool) {
	msg := t.inv.Message
	content, err := id.Open(msg)
	if err != nil {
		t.log.Warn("agent-invoke: the message does not open with the agent's key", "err", err)
		t.fail(ctx, agent.CodeUnreadable, "the agent could not read this message", false)
		return modelRequest{}, nil, false
	}
	recipients, err := msg.Audience.Recipients()
	if err != nil { // Decode checked it: only a ledger from before audiences
		t.fail(ctx, agent.CodeUnreadable, "the agent could not read this message", false)
		return modelRequest{}, nil, false
	}
	history := t.history(ctx, id, msg, cfg.Context)
	req := modelRequest{MaxTokens: cfg.MaxTokens, Store: cfg.Store, Tools: cfg.Tools, Messages: make([]chatMessage, 0, len(history)+2)}
	if cfg.SystemPrompt != "" {
		req.Messages = append(req.Messages, chatMessage{Role: roleSystem, Content: cfg.SystemPrompt})
	}
	req.Messages = append(append(req.Messages, history...), chatMessage{Role: roleUser, Content: contentText(content)})
	return req, recipients, true
}

// slot waits for a model call slot (AGENT_MAX_CALLS), saying "queued"
// when every slot is busy; false when the instance stops first (the call
// is handed over) or ctx ends.
func (t *turn) slot(ctx context.Context, id agent.Self) (release func(), ok bool) {
	select {
	case t.d.slots <- struct{}{}:
		return func() { <-t.d.slots }, true
	default:
		t.status(ctx, id, events.StatusQueued)
	}
	select {
	case t.d.slots <- struct{}{}:
		return func() { <-t.d.slots }, true
	case <-t.d.stopping:
		t.log.Info("agent-invoke: stopping before the call: handing it over")
	case <-ctx.Done():
	}
	return nil, false
}

// converse sends the call's requests from step on — req is what step
// sends; the sent marker of step 0 is in place — running the tools the
// model asks for between them (tools.go; mt: the turn's MCP tools), and
// replies with the answer of the first request that asks for none.
func (t *turn) converse(ctx context.Context, cfg modelConfig, req modelRequest, id agent.Self, rs []e2ee.Recipient, step int, mt *mcpTools) {
	box, err := newLedgerBox(id.Key)
	if err != nil {
		t.fail(ctx, agent.CodeNotConfigured, "this agent is not set up on its runtime", false)
		return
	}
	p := &partials{t: t, ctx: ctx, id: id, rs: rs, every: t.d.cfg.PartialInterval}
	for ; ; step++ {
		if step > 0 {
			sent, err := t.d.ledger.MarkStepSent(ctx, t.k, step, t.n)
			if err != nil || !sent {
				t.log.Warn("agent-invoke: not sending the request after the tools", "step", step, "err", err, "sentByAnother", err == nil)
				return
			}
		}
		t.f.woke()
		t.status(ctx, id, events.StatusThinking)
		p.began = false // the request's first text says "streaming"
		a, ep, merr := t.call(ctx, cfg, req, p)
		p.flush() // the last partial goes before the reply (and done), as each request ends
		if merr != nil {
			t.log.Warn("agent-invoke: model call failed", "code", merr.Code, "step", step, "err", merr.Err)
			t.fail(ctx, merr.Code, merr.Message, merr.Retryable)
			return
		}
		// Each request's usage is recorded as its answer is in, under its
		// step: whichever attempt sends the next one (this one, or a
		// takeover after a crash while the tools run) records that one.
		t.recordUsage(ctx, ep, step, a.Usage)
		if len(a.ToolCalls) == 0 || len(req.Tools) == 0 {
			if strings.TrimSpace(a.Text) == "" {
				t.fail(ctx, codeEmptyAnswer, "the model gave no answer", true)
				return
			}
			t.reply(ctx, id, a.Text, rs)
			return
		}
		if step+1 >= t.d.cfg.MaxToolSteps {
			t.fail(ctx, codeToolSteps, "the agent used too many tools for one answer", true)
			return
		}
		a.ToolCalls = withCallIDs(a.ToolCalls, step)
		sc, err := t.recordStep(ctx, box, step, a)
		if err != nil {
			t.log.Error("agent-invoke: record the tool calls", "step", step, "err", err)
			t.fail(ctx, codeInterrupted, "the agent was interrupted while answering; ask again", true)
			return
		}
		req.Messages = append(req.Messages, chatMessage{Role: roleAssistant, Content: sc.Text, ToolCalls: sc.Calls})
		t.status(ctx, id, events.StatusTool, toolNames(sc.Calls)...)
		results, err := t.runTools(ctx, box, id, cfg, mt, step, sc.Calls)
		if err != nil {
			// Stopping (or the ledger failed): the call's next attempt
			// goes on from the ledger (and records what its requests cost).
			t.log.Info("agent-invoke: handing the call over while its tools run", "step", step, "err", err)
			return
		}
		req.Messages = append(req.Messages, results...)
	}
}

// continueTools takes over a call whose previous attempt died while the
// tools of its last request ran: it rebuilds the requests from the
// ledger (the message, the history, each step's calls and results), gets
// the results still missing (tool.called posted again: tools run once per
// call id) and goes on with the next request.
func (t *turn) continueTools(ctx context.Context, st callState) {
	id, ok := t.identify(ctx)
	if !ok || t.skip(ctx, id) { // a reaction, a delete: nothing to answer (asks.go)
		return
	}
	cfg := t.d.cfg.modelFor(t.k.Agent)
	t.log.Info("agent-invoke: the previous attempt died while tools ran: going on from the ledger", "steps", len(st.Steps))
	if t.waking {
		t.status(ctx, id, events.StatusWaking)
	}
	t.send(ctx, "typing", func() (event.Event, error) { return id.Typing(t.k.Conversation, events.TypingThinking) })
	req, rs, ok := t.prepare(ctx, id, cfg)
	if !ok {
		return
	}
	box, err := newLedgerBox(id.Key)
	if err != nil {
		t.fail(ctx, agent.CodeNotConfigured, "this agent is not set up on its runtime", false)
		return
	}
	mt := t.openMCP(ctx, cfg)
	defer mt.close()
	req.Tools = append(req.Tools, mt.specs...)
	for _, s := range st.Steps {
		sc, err := t.openStep(box, s)
		if err != nil {
			t.log.Error("agent-invoke: a recorded step does not open with the agent's key", "step", s.Step, "err", err)
			t.fail(ctx, codeInterrupted, "the agent was interrupted while answering; ask again", true)
			return
		}
		req.Messages = append(req.Messages, chatMessage{Role: roleAssistant, Content: sc.Text, ToolCalls: sc.Calls})
		if s.Step == st.Steps[len(st.Steps)-1].Step { // the round whose tools may still run
			t.status(ctx, id, events.StatusTool, toolNames(sc.Calls)...)
		}
		results, err := t.runTools(ctx, box, id, cfg, mt, s.Step, sc.Calls)
		if err != nil {
			t.log.Info("agent-invoke: handing the call over while its tools run", "step", s.Step, "err", err)
			return
		}
		req.Messages = append(req.Messages, results...)
	}
	release, ok := t.slot(ctx, id)
	if !ok {
		return
	}
	defer release()
	t.converse(ctx, cfg, req, id, rs, len(st.Steps), mt)
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
// answer the endpoint at base URL at stores under completion: it reads
// the stored answer (polling while the endpoint is still generating it,
// up to AGENT_CALL_TIMEOUT), records its usage and replies with it. The
// model is not called again.
func (t *turn) resume(ctx context.Context, completion, at string) {
	id, ok := t.identify(ctx)
	if !ok {
		return
	}
	recipients, err := t.inv.Message.Audience.Recipients()
	if err != nil {
		t.fail(ctx, agent.CodeUnreadable, "the agent could not read this message", false)
		return
	}
	ep := t.d.cfg.modelFor(t.k.Agent).endpointFor(at)
	ctx, cancel := context.WithTimeout(ctx, t.d.cfg.CallTimeout)
	defer cancel()
	t.log.Info("agent-invoke: the previous attempt died mid-answer: reading the stored answer", "completion", completion)
	for wait := 500 * time.Millisecond; ; wait = min(2*wait, 10*time.Second) {
		t.f.stats.retrievals.Add(1)
		a, found, err := t.d.model.Retrieve(ctx, ep, completion)
		if found {
			t.recordUsage(ctx, ep, 0, a.Usage)
		}
		switch {
		case found && len(a.ToolCalls) > 0:
			// The stored answer asks for tools; its calls were never
			// recorded, so they cannot be run exactly once from here.
			t.fail(ctx, codeInterrupted, "the agent was interrupted while answering; ask again", true)
			return
		case found && strings.TrimSpace(a.Text) == "":
			t.fail(ctx, codeEmptyAnswer, "the model gave no answer", true)
			return
		case found:
			t.reply(ctx, id, a.Text, recipients)
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

// call is the one model call of the turn, over the agent's endpoints in
// order (failover): an endpoint that refuses the request (429, 503, no
// connection), fails it with another 5xx, or — unless it is the last —
// does not start answering within AGENT_ENDPOINT_TIMEOUT passes it to the
// next one at once. Once every endpoint has had its turn, those that only
// refused are asked again after a backoff (Retry-After, the soonest any
// of them asked for), up to AGENT_RETRIES rounds; those that failed
// otherwise are not. Nothing moves once content has streamed: the
// partials shown are that endpoint's answer. The sent marker covers every
// request of the call, whichever endpoint: a crash between them fails
// visibly too. It returns the answer and the endpoint that gave it.
func (t *turn) call(ctx context.Context, cfg modelConfig, req modelRequest, p *partials) (answer, endpoint, *modelError) {
	ctx, cancel := context.WithTimeout(ctx, t.d.cfg.CallTimeout)
	defer cancel()
	eps := cfg.Endpoints
	out := make([]bool, len(eps)) // failed this call other than by refusing: not asked again
	var last *modelError
	for round := 0; round <= t.d.cfg.Retries; round++ {
		var soonest time.Duration // the least Retry-After of this round's refusals
		asked := false
		for i, ep := range eps {
			if out[i] {
				continue
			}
			asked = true
			req.Endpoint = ep
			a, me, moveOn := t.try(ctx, req, p, i < len(eps)-1)
			if me == nil {
				return a, ep, nil
			}
			last = me
			if ctx.Err() != nil || !moveOn {
				return answer{}, ep, me
			}
			if !me.Refused {
				out[i] = true
			} else if me.RetryAfter > 0 && (soonest == 0 || me.RetryAfter < soonest) {
				soonest = me.RetryAfter
			}
			if i+1 < len(eps) {
				t.log.Info("agent-invoke: endpoint did not answer: moving the call to the next", "endpoint", i, "code", me.Code, "status", me.Status)
			}
		}
		if !asked || round == t.d.cfg.Retries || !slices.Contains(out, false) {
			break
		}
		wait := backoff(round, soonest)
		t.log.Info("agent-invoke: the model refused the request: trying again", "code", last.Code, "try", round+1, "in", wait.String())
		if sleep(ctx, wait) != nil {
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return answer{}, endpoint{}, &modelError{Code: last.Code, Message: last.Message, Retryable: true, Err: last.Err}
			}
			return answer{}, endpoint{}, &modelError{Code: codeInterrupted, Message: "the agent was interrupted; ask again", Retryable: true, Err: ctx.Err()}
		}
	}
	return answer{}, endpoint{}, last
}

// try sends req to its endpoint once. moveOn is set when the call may
// move to the next endpoint: nothing streamed, and the endpoint refused
// the request, failed it with a 5xx, or — with limit, for an endpoint
// that is not the agent's last — did not start answering (its first
// chunk) within AGENT_ENDPOINT_TIMEOUT. When the endpoint stores answers,
// try records the answer's completion id and endpoint as soon as the
// first chunk names them (the sent marker is in place).
func (t *turn) try(ctx context.Context, req modelRequest, p *partials, limit bool) (a answer, me *modelError, moveOn bool) {
	t.f.stats.requests.Add(1)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var mu sync.Mutex
	began, timedOut := false, false // the first chunk arrived; the endpoint took too long for it
	if limit {
		first := time.AfterFunc(t.d.cfg.EndpointTimeout, func() {
			mu.Lock()
			defer mu.Unlock()
			if !began {
				timedOut = true
				cancel()
			}
		})
		defer first.Stop()
	}
	started := func(completion string) {
		mu.Lock()
		began = true
		mu.Unlock()
		if req.Store && completion != "" {
			if err := t.d.ledger.MarkStarted(ctx, t.k, t.n, completion, req.Endpoint.BaseURL); err != nil {
				t.log.Warn("agent-invoke: record the completion id (a crash now fails as interrupted)", "err", err)
			}
		}
	}
	a, err := t.d.model.Stream(ctx, req, started, p.add)
	if err == nil {
		return a, nil, false
	}
	if !errors.As(err, &me) {
		me = &modelError{Code: codeModelError, Message: "the model could not answer", Retryable: true, Err: err}
	}
	mu.Lock()
	defer mu.Unlock()
	if timedOut { // nothing arrived: no content either
		return answer{}, &modelError{Code: codeTimeout, Message: "the model did not answer in time", Retryable: true,
			Err: errors.New("no first chunk within AGENT_ENDPOINT_TIMEOUT")}, true
	}
	return answer{}, me, me.Refused || me.Status >= 500
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
