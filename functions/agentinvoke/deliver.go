package function

import (
	"context"
	"errors"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/agentchat/agentchat/sdk/e2ee"
	"github.com/agentchat/agentchat/sdk/events"
)

// deliver makes the recorded outcome visible and finishes the call. It is
// idempotent, and every attempt that finds an outcome runs it again: the
// reply has a fixed client message id (persist stores it once), the done
// and error events have fixed ids.
func (t *turn) deliver(ctx context.Context, o outcome) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
	defer cancel()
	id, err := t.f.identity(ctx, t.d, t.k.Agent)
	if err != nil && (id.Device == "" || o.State == stateReplied) {
		t.log.Error("agent-invoke: cannot act as the agent to deliver the outcome", "state", o.State, "err", err)
		if ce := (*configError)(nil); errors.As(err, &ce) {
			// Not a passing failure: nobody can be told, and sweeps would
			// take the call over again and again. Close it.
			if err := t.d.ledger.Finish(ctx, t.k, stateFailed); err != nil {
				t.log.Warn("agent-invoke: finish the call", "err", err)
			}
		}
		return
	}
	state := o.State
	if o.State == stateReplied {
		if err := t.postReply(ctx, id, o.Envelope); err != nil {
			var rej *replyRejected
			if !errors.As(err, &rej) {
				t.log.Warn("agent-invoke: post the reply (the next sweep tries again)", "err", err)
				return
			}
			t.log.Error("agent-invoke: the reply was not stored", "err", err)
			o = outcome{State: stateFailed, Code: codeNotStored, Message: "the agent's answer could not be delivered", Retryable: true}
			state = stateFailed
		}
	}
	if state == stateReplied {
		if !t.send(ctx, "done", func() (event.Event, error) { return doneEvent(id, t.k) }) {
			return
		}
	} else if !t.postError(ctx, id, o) {
		return
	}
	t.send(ctx, "typing", func() (event.Event, error) { return typingEvent(id, t.k.Conversation, events.TypingStopped) })
	if err := t.d.ledger.Finish(ctx, t.k, state); err != nil {
		t.log.Warn("agent-invoke: finish the call (the next sweep delivers it again)", "err", err)
		return
	}
	t.log.Info("agent-invoke: call finished", "state", state, "code", o.Code)
}

// postError sends agent.error, retrying while the broker refuses: it is
// the only trace the user gets of a failed call.
func (t *turn) postError(ctx context.Context, id identity, o outcome) bool {
	for wait := 200 * time.Millisecond; ; wait *= 2 {
		if t.send(ctx, "agent.error", func() (event.Event, error) { return errorEvent(id, t.k, o.Code, o.Message, o.Retryable) }) {
			return true
		}
		if sleep(ctx, wait) != nil {
			return false
		}
	}
}

// replyRejected means persist did not store the reply even after it was
// sealed again for the devices of the moment.
type replyRejected struct{ why string }

func (r *replyRejected) Error() string { return "agent-invoke: reply not stored: " + r.why }

// postReply posts the recorded reply and waits until persist has stored
// it. If it does not show up (the members' devices changed since it was
// sealed, so persist refused it), the agent opens its own copy — the
// agent's device is always among the recipients — seals it for the
// current devices, and posts it once more under the same client message
// id.
func (t *turn) postReply(ctx context.Context, id identity, env *e2ee.Envelope) error {
	for try := 0; try < 2; try++ {
		if err := t.postRetrying(ctx, func() (event.Event, error) { return replyEvent(id, t.k, env) }); err != nil {
			return err
		}
		stored, err := t.confirm(ctx, id)
		if err != nil || stored {
			return err
		}
		plain, err := e2ee.Open(env, replyAD(id, t.k), id.Device, id.Key)
		if err != nil {
			return &replyRejected{why: "the agent's own copy does not open: " + err.Error()}
		}
		rs, _, err := t.d.dir.Recipients(ctx, t.k.Conversation)
		if err != nil {
			return err
		}
		if env, err = e2ee.Seal(plain, replyAD(id, t.k), rs); err != nil {
			return &replyRejected{why: err.Error()}
		}
		t.log.Info("agent-invoke: the reply was not stored in time: sealed again for the current devices", "devices", len(rs))
	}
	return &replyRejected{why: "persist did not store it"}
}

// postRetrying posts what build makes, retrying with backoff while the
// broker does not accept it.
func (t *turn) postRetrying(ctx context.Context, build func() (event.Event, error)) error {
	e, err := build()
	if err != nil {
		return &replyRejected{why: err.Error()}
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

// confirm looks for the stored reply from the message after the one
// answered onwards, by _id lookups only (cheap on FerretDB too): the
// reply was sent after that message was stored, so its seq is higher.
func (t *turn) confirm(ctx context.Context, id identity) (bool, error) {
	deadline := time.Now().Add(t.d.cfg.ConfirmTimeout)
	for seq := t.k.Seq + 1; ; {
		m, ok, err := t.d.dir.Message(ctx, t.k.Conversation, seq)
		switch {
		case err != nil:
			return false, err
		case ok && m.SenderID == id.Agent && m.ClientMessageID == t.k.replyID():
			return true, nil
		case ok:
			seq++
		case time.Now().After(deadline):
			return false, nil
		default:
			if err := sleep(ctx, 100*time.Millisecond); err != nil {
				return false, err
			}
		}
	}
}
