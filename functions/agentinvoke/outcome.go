package function

import (
	"context"
	"slices"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/agentchat/agentchat/sdk/agent"
	"github.com/agentchat/agentchat/sdk/e2ee"
	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/fn"
)

// heard handles persist's answer to a reply of an agent this runtime
// answers for, brought by the agent-invoke-outcome Trigger (persist's
// answer to an agent's message carries its agentid and agentkind). Any
// instance may get it, not only the one that posted the reply: all it
// needs is the ledger and the agent's key.
//
//   - message.stored: the reply has its seq. Post agent.done (after the
//     reply, never before it), typing "paused", and finish the call.
//   - message.rejected with an audience other than the reply was sealed
//     for (a member or a device came or went during the call): open the
//     agent's own copy, seal it for that audience and post it again under
//     the same client message id. persist's answer to that comes here too.
//   - message.rejected otherwise: agent.error not_stored, and finish.
//
// Redeliveries are harmless: a finished call is left alone; a second
// reseal posts the same message, which persist stores once. A failure to
// post or to read the ledger answers 500: the broker delivers again.
func (f *Function) heard(ctx context.Context, e event.Event) (*event.Event, error) {
	d := f.deps.Load()
	if d == nil {
		return nil, errNotStarted
	}
	o, ok, err := agent.OutcomeOf(e)
	if err != nil {
		return nil, fn.Refuse("agent-invoke: %v", err)
	}
	key, mine := d.cfg.Keys[o.Agent]
	if !ok || !mine {
		return nil, nil // not a reply of an agent answered here
	}
	k := callKey{Conversation: o.Conversation, Seq: o.ReplyTo, Agent: o.Agent}
	log := f.log.With("agent", k.Agent, "conversation", k.Conversation, "seq", k.Seq)
	st, err := d.ledger.State(ctx, k)
	if err != nil {
		return nil, err
	}
	if !st.Exists || st.Finished || st.Outcome == nil || st.Outcome.State != stateReplied {
		log.Debug("agent-invoke: an answer about no open reply", "type", e.Type())
		return nil, nil
	}
	self := agent.Self{ID: o.Agent, Kind: kindModel, Device: o.Device, Key: key.Private}
	if o.Stored != nil {
		if err := post(ctx, d, func() (event.Event, error) { return self.Done(k.Conversation, k.Seq) }); err != nil {
			return nil, err
		}
		if err := post(ctx, d, func() (event.Event, error) { return self.Typing(k.Conversation, events.TypingStopped) }); err != nil {
			log.Warn("agent-invoke: post typing", "err", err) // ephemeral: no retry for it
		}
		if err := d.ledger.Finish(ctx, k, stateReplied); err != nil {
			return nil, err
		}
		log.Info("agent-invoke: call finished", "state", stateReplied, "replySeq", o.Stored.Seq)
		return nil, nil
	}
	if a := o.Rejected.Audience; a != nil && !sameDevices(st.Outcome.Envelope.Devices(), a) {
		err := f.reseal(ctx, d, self, k, st.Outcome.Envelope, a)
		if err == nil {
			log.Info("agent-invoke: the members' devices changed: reply sealed again", "code", o.Rejected.Code, "devices", len(a.Devices))
			return nil, nil
		}
		if !fn.IsRefusal(err) {
			return nil, err
		}
		log.Error("agent-invoke: cannot seal the reply again", "err", err)
	}
	log.Error("agent-invoke: the reply was not stored", "code", o.Rejected.Code)
	if err := post(ctx, d, func() (event.Event, error) {
		return self.Error(k.Conversation, k.Seq, codeNotStored, "the agent's answer could not be delivered", true)
	}); err != nil {
		return nil, err
	}
	if err := post(ctx, d, func() (event.Event, error) { return self.Typing(k.Conversation, events.TypingStopped) }); err != nil {
		log.Warn("agent-invoke: post typing", "err", err)
	}
	if err := d.ledger.Finish(ctx, k, stateFailed); err != nil {
		return nil, err
	}
	return nil, nil
}

// reseal opens the agent's own copy of the reply (its device is always
// among the recipients), seals it for audience and posts it under the
// same client message id. A refusal (fn.IsRefusal) means it cannot be.
func (f *Function) reseal(ctx context.Context, d *deps, self agent.Self, k callKey, env *e2ee.Envelope, audience *events.Audience) error {
	plain, err := self.OpenReply(k.Conversation, k.Seq, env)
	if err != nil {
		return fn.Refuse("the agent's own copy does not open: %v", err)
	}
	rs, err := audience.Recipients()
	if err != nil {
		return fn.Refuse("%v", err)
	}
	sealed, err := e2ee.SealOnce(plain, self.ReplyAD(k.Conversation, k.Seq), rs)
	if err != nil {
		return fn.Refuse("%v", err)
	}
	return post(ctx, d, func() (event.Event, error) { return self.Reply(k.Conversation, k.Seq, sealed) })
}

// post builds one event and sends it; a build error is a refusal (the
// values were checked before: it cannot succeed on a retry).
func post(ctx context.Context, d *deps, build func() (event.Event, error)) error {
	e, err := build()
	if err != nil {
		return fn.Refuse("agent-invoke: %v", err)
	}
	return d.sink.Send(ctx, e)
}

// sameDevices reports whether an envelope wrapped for devices is wrapped
// for exactly the audience's devices.
func sameDevices(devices []string, a *events.Audience) bool {
	want := make([]string, 0, len(a.Devices))
	for _, d := range a.Devices {
		want = append(want, d.Device)
	}
	got := slices.Clone(devices)
	slices.Sort(got)
	slices.Sort(want)
	return slices.Equal(got, want)
}
