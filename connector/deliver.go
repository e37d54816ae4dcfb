package connector

import (
	"encoding/json"
	"fmt"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/protocol"
	"github.com/agentchat/agentchat/store/deliveries"
)

// deliver handles one message from the delivery channel: decode the
// delivery (store/deliveries: a plain message, the event's attributes and
// its data as route received it), render its event once per variant
// (framesFor, which decodes the event's data, once), and queue the frame on
// each target socket held here. It runs on the subscription's goroutine
// and never blocks: a full queue closes that socket (4008) and everyone
// else carries on.
func (s *Server) deliver(payload []byte) {
	s.m.deliveries.Inc()
	d, err := deliveries.Decode(payload)
	if err != nil {
		if isRevocation(payload) {
			s.revoked(payload)
			return
		}
		s.drop("malformed", err)
		return
	}
	fr, err := framesFor(d.Event()) // validates the event as it decodes its data
	if err != nil {
		s.drop("unrenderable", err)
		return
	}
	if s.tracer != nil {
		defer s.startDeliverSpan(&d, &fr).End()
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
		if k, ok := dedupeKeyOf(c, f); ok && !s.dedupe.firstTime(k) {
			s.m.deliveryDrops.WithLabelValues("duplicate").Inc()
			continue
		}
		if g, ok := forDevice(f, t.Device); ok { // a sender key distribution: this device's key only
			data, err := json.Marshal(g)
			if err != nil {
				s.drop("unrenderable", err)
				return
			}
			c.enqueue(outFrame{typ: g.Type, data: data})
			continue
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

// dedupeKeyOf is the key that makes f reach c once: a message once per
// seq; a stored once per send of its message id on this socket (a resend
// forgets the key, see storedKey, so it gets its stored back).
func dedupeKeyOf(c *conn, f protocol.Frame) (dedupeKey, bool) {
	switch f.Type {
	case protocol.TypeMessage:
		return dedupeKey{serial: c.serial, conversation: f.Conversation, seq: f.Seq, typ: f.Type}, true
	case protocol.TypeStored:
		return storedKey(c, f.Conversation, f.ID), true
	}
	return dedupeKey{}, false
}

// storedKey names the stored frame for message id on socket c.
func storedKey(c *conn, conversation, id string) dedupeKey {
	return dedupeKey{serial: c.serial, conversation: conversation, id: id, typ: protocol.TypeStored}
}

func (s *Server) drop(reason string, err error) {
	s.m.deliveryDrops.WithLabelValues(reason).Inc()
	s.log.Warn("connector: delivery dropped", "reason", reason, "err", err)
}

// isRevocation reports whether payload is accounts' revocation
// (events.DeviceRevoked) or suspension (events.UserSuspended), which come
// on the same subscription.
func isRevocation(payload []byte) bool {
	var probe struct {
		Type string `json:"type"`
	}
	return json.Unmarshal(payload, &probe) == nil &&
		(probe.Type == events.TypeDeviceRevoked || probe.Type == events.TypeUserSuspended)
}

// revoked closes the socket of a device accounts just revoked, or every
// socket of a user an admin suspended (suspend.go), if here: their tokens
// would otherwise keep them connected until they expire.
func (s *Server) revoked(payload []byte) {
	var r events.DeviceRevoked // an events.UserSuspended has its fields but Device
	if err := json.Unmarshal(payload, &r); err != nil || r.User == "" || r.Device == "" && r.Type != events.TypeUserSuspended {
		s.drop("malformed", fmt.Errorf("connector: bad revocation: %v", err))
		return
	}
	if r.Type == events.TypeUserSuspended {
		s.suspended(r.User)
		return
	}
	for _, c := range s.cut(cutKey{user: r.User, device: r.Device}) {
		s.log.Info("connector: closing a revoked device", "user", r.User, "device", r.Device)
		c.shutdown(protocol.CloseRevoked, "device revoked", true)
	}
}
