package function

import (
	"errors"
	"net/http"
	"time"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/store"
)

// presenceSetting is who may see the caller's presence (docs/accounts.md,
// "Presence"): everyone (who shares a conversation with them), contacts
// (who share a direct conversation with them) or nobody.
type presenceSetting struct {
	Visibility string `json:"visibility"`
}

// getPresence answers the caller's own setting.
func (s *service) getPresence(w http.ResponseWriter, r *http.Request, p principal) error {
	vis, err := s.dir.Visibilities(r.Context(), []string{p.User})
	if err != nil {
		return err
	}
	v, ok := vis[p.User]
	if !ok {
		return notFound("user")
	}
	writeJSON(w, http.StatusOK, presenceSetting{Visibility: v})
	return nil
}

// setPresence stores the caller's setting, then announces it
// (presence.changed, cause visibility) so that route tells their online
// watchers at once: a watcher who may no longer see it gets a frame that
// takes it away. Setting the same value again is harmless (announced
// again, the same frames).
func (s *service) setPresence(w http.ResponseWriter, r *http.Request, p principal) error {
	var req presenceSetting
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if !events.ValidVisibility(req.Visibility) {
		return invalid("visibility", "one of everyone, contacts, nobody")
	}
	ctx := r.Context()
	u, err := s.dir.SetVisibility(ctx, p.User, req.Visibility)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return notFound("user")
	case err != nil:
		return err
	}
	s.log.Info("accounts: presence visibility set", "user", u.ID, "visibility", u.Visibility)
	e, err := events.NewPresenceChanged(events.SourceAccounts, p.User, p.Device, events.PresenceVisibility, uint64(time.Now().UnixNano()))
	s.announce(ctx, e, err)
	writeJSON(w, http.StatusOK, presenceSetting{Visibility: u.Visibility})
	return nil
}
