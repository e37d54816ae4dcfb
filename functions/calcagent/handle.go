package function

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strconv"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"

	"github.com/agentchat/agentchat/sdk/e2ee"
	"github.com/agentchat/agentchat/sdk/events"
)

// Handle answers one invoke. Everything it does is idempotent — the reply
// is "r-<seq>" from the agent's device, which persist stores once — so an
// infrastructure error simply returns 500 and the broker delivers again.
// An invoke that can never be answered gets 400 (dead-lettered), one for
// an agent it holds no key for is dropped with a log line.
func (f *Function) Handle(ctx context.Context, e event.Event) (*event.Event, error) {
	log := f.log.Load()
	d := f.deps.Load()
	if d == nil {
		return nil, errNotStarted
	}
	inv, err := events.Decode[events.AgentInvoke](e)
	if err != nil || e.Type() != events.TypeAgentInvoke {
		log.Warn("calc-agent: rejected", "event", e.ID(), "type", e.Type(), "err", err)
		return nil, cehttp.NewResult(http.StatusBadRequest, "calc-agent: not an agent invoke: %v", err)
	}
	m := inv.Message
	key, ok := d.keys[inv.AgentID]
	if !ok {
		log.Warn("calc-agent: invoke for an agent without a key here", "agent", inv.AgentID)
		return nil, nil
	}
	// 1. Who the agent is: its one device, registered with this key.
	device, pub, ok, err := d.dir.AgentDevice(ctx, inv.AgentID)
	if err != nil {
		return nil, err
	}
	if !ok || !bytes.Equal(pub, key.PublicKeyBytes()) {
		log.Error("calc-agent: the key in AGENT_KEYS is not the agent's registered device key", "agent", inv.AgentID)
		return nil, nil
	}
	me := events.Meta{Source: events.SourceAgentPrefix + inv.AgentID, Conversation: m.ConversationID,
		Sender: inv.AgentID, Device: device, AgentID: inv.AgentID}

	// 2. Open the message, as any member device would.
	plain, err := e2ee.Open(m.Envelope, e2ee.AssociatedData{Conversation: m.ConversationID,
		SenderDevice: m.SenderDevice, ClientMessageID: m.ClientMessageID}, device, key)
	var content e2ee.Content
	if err == nil {
		content, err = e2ee.UnmarshalContent(plain)
	}
	if err != nil {
		log.Warn("calc-agent: the message does not open", "conversation", m.ConversationID, "seq", m.Seq, "err", err)
		return nil, f.send(ctx, d, events.TypeAgentError, "error", me, events.AgentError{AgentID: inv.AgentID,
			ReplyTo: m.Seq, Code: "unreadable", Message: "the agent could not read this message"})
	}

	// 3. Answer.
	text, err := answer(ctx, d.dir, question{Conversation: m.ConversationID, Seq: m.Seq, Text: content.Text})
	if err != nil {
		return nil, err
	}

	// 4. Seal the reply for every current member device (persist refuses
	//    any other set) and send it as an ordinary message.
	recipients, err := d.dir.Recipients(ctx, m.ConversationID)
	if err != nil {
		return nil, err
	}
	replyID := "r-" + strconv.FormatInt(m.Seq, 10)
	body, err := e2ee.Content{Text: text, ReplyTo: m.Seq}.Marshal()
	if err != nil {
		return nil, cehttp.NewResult(http.StatusBadRequest, "calc-agent: %v", err)
	}
	env, err := e2ee.Seal(body, e2ee.AssociatedData{Conversation: m.ConversationID, SenderDevice: device,
		ClientMessageID: replyID}, recipients)
	if err != nil {
		return nil, err
	}
	reply, err := events.NewMessageSent(me.Source, m.ConversationID, inv.AgentID, device,
		events.MessageSent{ClientMessageID: replyID, Envelope: env})
	if err != nil {
		return nil, err
	}
	if err := post(ctx, d, reply); err != nil {
		return nil, err
	}
	log.Info("calc-agent: answered", "agent", inv.AgentID, "conversation", m.ConversationID, "seq", m.Seq)
	return nil, f.send(ctx, d, events.TypeAgentDone, "done", me,
		events.AgentDone{AgentID: inv.AgentID, ReplyTo: m.Seq, ClientMessageID: replyID})
}

// send posts an agent.done or agent.error with an id fixed per message.
func (f *Function) send(ctx context.Context, d *deps, typ, what string, me events.Meta, data any) error {
	e, err := events.New(typ, events.DeriveID("calc-agent", what, me.AgentID, me.Conversation, fmt.Sprint(data)), me, data)
	if err != nil {
		return err
	}
	return post(ctx, d, e)
}

func post(ctx context.Context, d *deps, e event.Event) error {
	if res := d.sink.Send(ctx, e); !cloudevents.IsACK(res) {
		return fmt.Errorf("calc-agent: post %s to the broker: %w", e.Type(), res)
	}
	return nil
}
