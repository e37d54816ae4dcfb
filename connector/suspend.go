package connector

import (
	"github.com/agentchat/agentchat/sdk/protocol"
)

// suspended closes every socket of user held here (protocol.CloseSuspended):
// an admin suspended the account (events.UserSuspended, on the revocation
// channel every connector subscribes to). It walks every socket, since
// sockets are indexed by device, not user; suspensions are rare admin actions.
// New sockets of the user are refused at upgrade (admit: Suspended).
func (s *Server) suspended(user string) {
	s.mu.RLock()
	var victims []*conn
	for c := range s.all {
		if c.dev.User == user {
			victims = append(victims, c)
		}
	}
	s.mu.RUnlock()
	if len(victims) > 0 {
		s.log.Info("connector: closing a suspended user's sockets", "user", user, "sockets", len(victims))
	}
	for _, c := range victims {
		c.shutdown(protocol.CloseSuspended, "account suspended", true)
	}
}
