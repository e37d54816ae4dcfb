package function

import (
	"context"
	"errors"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/agentchat/agentchat/sdk/agent"
	"github.com/agentchat/agentchat/sdk/events"
)

// maxReposts bounds how often takeovers post a recorded reply again that
// persist never answered (lost answers, or a rejection that did not reach
// this runtime): after that the call fails visibly as not_stored.
const maxReposts = 3

// deliver makes the recorded outcome visible. It is idempotent, and every
// attempt that finds an outcome runs it again: the reply has a fixed
// client message id (persist stores it once), the done and error events
// have fixed ids. A reply is only posted here: persist's answer to it
// (outcome.go) posts agent.done and finishes the call, and the attempt
// keeps its lease for AGENT_CONFIRM_TIMEOUT meanwhile, so that sweeps do
// not post it again while the answer is on its way. A failure is posted
// and finished here.
func (t *turn) deliver(ctx context.Context, o outcome) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
	defer cancel()
	id, err := t.self(ctx)
	if err != nil && (id.Device == "" || o.State == stateReplied) {
		t.log.Error("agent-invoke: cannot act as the agent to deliver the outcome", "state", o.State, "err", err)
		var ce *agent.ConfigError
		if errors.As(err, &ce) || errors.Is(err, errNoInvoke) {
			// Not a passing failure: nobody can be told, and sweeps would
			// take the call over again and again. Close it.
			if err := t.d.ledger.Finish(ctx, t.k, stateFailed); err != nil {
				t.log.Warn("agent-invoke: finish the call", "err", err)
			}
		}
		return
	}
	if o.State == stateReplied && t.n > o.Attempt+maxReposts {
		t.log.Error("agent-invoke: persist never answered the reply", "posted", t.n-o.Attempt)
		o = outcome{State: stateFailed, Code: codeNotStored, Message: "the agent's answer could not be delivered", Retryable: true}
	}
	if o.State == stateReplied {
		if err := t.postRetrying(ctx, func() (event.Event, error) { return id.Reply(t.k.Conversation, t.k.Seq, o.Envelope) }); err != nil {
			t.log.Warn("agent-invoke: post the reply (the next sweep tries again)", "err", err)
			return
		}
		t.holdUntil = time.Now().Add(t.d.cfg.ConfirmTimeout)
		t.log.Info("agent-invoke: reply posted; waiting for persist's answer")
		return
	}
	if !t.postError(ctx, id, o) {
		return
	}
	t.send(ctx, "typing", func() (event.Event, error) { return id.Typing(t.k.Conversation, events.TypingStopped) })
	if err := t.d.ledger.Finish(ctx, t.k, stateFailed); err != nil {
		t.log.Warn("agent-invoke: finish the call (the next sweep delivers it again)", "err", err)
		return
	}
	t.log.Info("agent-invoke: call finished", "state", stateFailed, "code", o.Code)
}

// postError sends agent.error, retrying while the broker refuses: it is
// the only trace the user gets of a failed call.
func (t *turn) postError(ctx context.Context, id agent.Self, o outcome) bool {
	for wait := 200 * time.Millisecond; ; wait *= 2 {
		if t.send(ctx, "agent.error", func() (event.Event, error) {
			return id.Error(t.k.Conversation, t.k.Seq, o.Code, o.Message, o.Retryable)
		}) {
			return true
		}
		if sleep(ctx, wait) != nil {
			return false
		}
	}
}

// postRetrying posts what build makes, retrying with backoff while the
// broker does not accept it.
func (t *turn) postRetrying(ctx context.Context, build func() (event.Event, error)) error {
	e, err := build()
	if err != nil {
		return err
	}
	for wait := 200 * time.Millisecond; ; wait *= 2 {
		if err = t.d.sink.Send(ctx, e); err == nil {
			return nil
		}
		t.log.Warn("agent-invoke: post the reply", "err", err)
		if sleep(ctx, min(wait, 5*time.Second)) != nil {
			return err
		}
	}
}
