package function

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/store"

	"function/internal/ratelimit"
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

// presenceChangeRate is how often one user may change their setting:
// each change costs route a read of their conversations and watchers and
// a frame to each online watcher, so an unlimited PUT would let one user
// make the platform spam everyone they share a conversation with.
var presenceChangeRate = ratelimit.Rule{Limit: 10, Window: time.Minute}

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
	if err := s.takePresenceChange(ctx, p.User); err != nil {
		return err
	}
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

// takePresenceChange counts one change of user's setting; 429 with
// Retry-After over presenceChangeRate. Like the other limits it fails
// open on a limiter outage (logged).
func (s *service) takePresenceChange(ctx context.Context, user string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	wait, err := s.limiter.Take(ctx, "presence:user:"+user, presenceChangeRate)
	if err != nil {
		s.log.Error("accounts: presence rate limiter unavailable; not limiting", "err", err)
		return nil
	}
	if wait > 0 {
		return &Problem{Status: http.StatusTooManyRequests, Detail: "too many changes of the presence setting; try again later", retryAfter: wait}
	}
	return nil
}
