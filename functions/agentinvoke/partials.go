package function

import (
	"context"
	"strings"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/agentchat/agentchat/sdk/agent"
	"github.com/agentchat/agentchat/sdk/e2ee"
	"github.com/agentchat/agentchat/sdk/events"
)

// partials streams the answer to the conversation as it arrives: each
// io.agentchat.agent.partial carries the text since the previous one
// (index 0, 1, ...), sealed like a message with e2ee.PartialAD for every
// member device. Deltas are coalesced so that at most one partial goes
// out per AGENT_PARTIAL_INTERVAL: every partial is a broker event and a
// fan-out, and events spaced out arrive in order through a broker that
// delivers concurrently. Partials are best effort; the stored reply is
// the truth.
type partials struct {
	t     *turn
	ctx   context.Context
	id    agent.Self
	rs    []e2ee.Recipient
	every time.Duration

	buf  strings.Builder
	next int
	last time.Time
	// began: the current request's answer has shown text (its first
	// says "streaming"); the turn clears it before each request.
	began bool
}

// add takes one delta (called in stream order by model.Stream).
func (p *partials) add(delta string) {
	if !p.began && strings.TrimSpace(delta) != "" {
		p.began = true
		p.t.status(p.ctx, p.id, events.StatusStreaming)
	}
	p.buf.WriteString(delta)
	if time.Since(p.last) >= p.every {
		p.flush()
	}
}

// flush sends what is buffered as the next partial.
func (p *partials) flush() {
	if p.buf.Len() == 0 {
		return
	}
	text := p.buf.String()
	p.buf.Reset()
	p.last = time.Now()
	index := p.next
	p.next++
	k := p.t.k
	p.t.send(p.ctx, "partial", func() (event.Event, error) {
		b, err := e2ee.Content{Text: text}.Marshal()
		if err != nil {
			return event.Event{}, err
		}
		env, err := e2ee.SealOnce(b, e2ee.PartialAD(k.Conversation, p.id.Device, k.Seq, index), p.rs) // each device gets its own key only
		if err != nil {
			return event.Event{}, err
		}
		return p.id.Partial(k.Conversation, k.Seq, index, env)
	})
}
