package connector

import (
	"time"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/protocol"
)

// Revocations and suspensions racing an admission.
//
// admit reads accounts' marks (revoked device, suspended user) in Redis
// before the upgrade; accounts sets the mark, then announces it on the
// revocation channel. An admission whose read came just before the mark
// was set lets the socket in, and if the announcement is handled here
// before accept registers that socket, revoked and suspended find nothing
// to close: the socket would stay open until its token expires. So the
// connector remembers what it heard for a while (cuts), and accept
// refuses a socket whose admission was asked before a cut of its device
// or user was heard. Both sides run under Server.mu: a cut is either
// heard before accept checks (refused) or after it registers the socket
// (closed by the walk).
//
// Why "asked before heard" is enough: the announcement follows the mark,
// which follows the admission's read (else the read had seen it), which
// follows the moment accept is given — all on this machine's monotonic
// clock once the announcement arrives.

// cutMemory is how long a cut is remembered: longer than an admission can
// take from asking to accept (admit's 2 s and the upgrade's 10 s
// HandshakeTimeout).
const cutMemory = time.Minute

// cutKey is a revoked device, or a suspended user (device "").
type cutKey struct{ user, device string }

// cuts are the revocations and suspensions heard here within cutMemory,
// with when. Guarded by Server.mu.
type cuts map[cutKey]time.Time

// hear records the cut k heard at now and forgets those older than
// cutMemory.
func (c cuts) hear(k cutKey, now time.Time) {
	for old, at := range c {
		if now.Sub(at) > cutMemory {
			delete(c, old)
		}
	}
	c[k] = now
}

// since returns the close code and reason for dev if a cut of it, or of
// its user, was heard at or after asked: the socket must not be let in.
func (c cuts) since(dev events.DeviceRef, asked time.Time) (code int, reason string, cut bool) {
	if at, ok := c[cutKey{user: dev.User}]; ok && !at.Before(asked) {
		return protocol.CloseSuspended, "account suspended", true
	}
	if at, ok := c[cutKey{user: dev.User, device: dev.Device}]; ok && !at.Before(asked) {
		return protocol.CloseRevoked, "device revoked", true
	}
	return 0, "", false
}

// cut records that k was heard now and returns the sockets it closes:
// every socket of the user for a suspension, the device's for a
// revocation.
func (s *Server) cut(k cutKey) []*conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cuts.hear(k, time.Now())
	if k.device != "" {
		if c := s.byDevice[events.DeviceRef{User: k.user, Device: k.device}]; c != nil {
			return []*conn{c}
		}
		return nil
	}
	var victims []*conn
	for c := range s.all {
		if c.dev.User == k.user {
			victims = append(victims, c)
		}
	}
	return victims
}
