package connector

import (
	"github.com/agentchat/agentchat/sdk/protocol"
)

// suspended closes every socket of user held here (protocol.CloseSuspended):
// an admin suspended the account (events.UserSuspended, on the revocation
// channel every connector subscribes to). It walks every socket, since
// sockets are indexed by device, not user; suspensions are rare admin actions.
// New sockets of the user are refused at upgrade (admit: Suspended), and
// those admitted just before are refused at accept (cuts.go).
func (s *Server) suspended(user string) {
	victims := s.cut(cutKey{user: user})
	if len(victims) > 0 {
		s.log.Info("connector: closing a suspended user's sockets", "user", user, "sockets", len(victims))
	}
	for _, c := range victims {
		c.shutdown(protocol.CloseSuspended, "account suspended", true)
	}
}
