package connector

import (
	"encoding/json"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/protocol"
)

// deliver handles one message from the delivery channel: decode the
// delivery, render its event once per variant (framesFor), and queue the
// frame on each target socket held here. It runs on the subscription's
// goroutine and never blocks: a full queue closes that socket (4008) and
// everyone else carries on.
func (s *Server) deliver(payload []byte) {
	s.m.deliveries.Inc()
	var outer event.Event
	if err := json.Unmarshal(payload, &outer); err != nil {
		s.drop("malformed", err)
		return
	}
	d, err := events.Decode[events.Delivery](outer)
	if err != nil {
		s.drop("malformed", err)
		return
	}
	var inner event.Event
	if err := json.Unmarshal(d.Event, &inner); err != nil {
		s.drop("malformed", err)
		return
	}
	fr, err := framesFor(inner) // validates the inner event
	if err != nil {
		s.drop("unrenderable", err)
		return
	}
	var own, other *outFrame
	for _, t := range d.Targets {
		c := s.lookup(t)
		if c == nil {
			s.m.deliveryDrops.WithLabelValues("not_here").Inc()
			continue
		}
		isOwn := t == fr.actor
		f := fr.other
		if isOwn {
			f = fr.own
		}
		if f.Type == protocol.TypeMessage || f.Type == protocol.TypeStored {
			if !s.dedupe.firstTime(dedupeKey{c.serial, f.Conversation, f.Seq, f.Type}) {
				s.m.deliveryDrops.WithLabelValues("duplicate").Inc()
				continue
			}
		}
		slot := &other
		if isOwn {
			slot = &own
		}
		if *slot == nil {
			data, err := json.Marshal(f)
			if err != nil {
				s.drop("unrenderable", err)
				return
			}
			*slot = &outFrame{typ: f.Type, data: data}
		}
		c.enqueue(**slot)
	}
}

func (s *Server) drop(reason string, err error) {
	s.m.deliveryDrops.WithLabelValues(reason).Inc()
	s.log.Warn("connector: delivery dropped", "reason", reason, "err", err)
}
