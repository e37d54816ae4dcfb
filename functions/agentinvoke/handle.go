package function

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
)

// Handle accepts one agent invoke. A malformed invoke gets 400, which the
// broker does not retry (it goes to the dead-letter sink); a valid one is
// acknowledged with 200 and no reply.
func (f *Function) Handle(_ context.Context, e event.Event) (*event.Event, error) {
	log := f.logger()
	if e.Type() != events.TypeAgentInvoke {
		return nil, reject(log, e, fmt.Errorf("type %q, want %s", e.Type(), events.TypeAgentInvoke))
	}
	inv, err := events.Decode[events.AgentInvoke](e)
	if err != nil {
		return nil, reject(log, e, err)
	}
	if agent, _ := e.Extensions()[events.ExtAgentID].(string); agent != inv.AgentID {
		return nil, reject(log, e, fmt.Errorf("extension %s %q is not data.agentId %q", events.ExtAgentID, agent, inv.AgentID))
	}
	kind, _ := e.Extensions()[events.ExtAgentKind].(string)
	log.Info("agent-invoke: received", "event", e.ID(), "agent", inv.AgentID, "agentKind", kind,
		"conversation", inv.Message.ConversationID, "seq", inv.Message.Seq, "sender", inv.Message.SenderID)
	return nil, nil
}

// reject logs why e can never be handled (ids only, never content) and
// returns the non-retryable result for it.
func reject(log *slog.Logger, e event.Event, reason error) error {
	log.Warn("agent-invoke: rejected", "event", e.ID(), "type", e.Type(), "source", e.Source(), "reason", reason.Error())
	return cehttp.NewResult(http.StatusBadRequest, "agent-invoke: %v", reason)
}
