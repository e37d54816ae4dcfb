package function

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/agentchat/agentchat/store"
	"github.com/agentchat/agentchat/store/directory"
)

type addMemberRequest struct {
	UserID string `json:"userId"`
}

// addMember adds a user to a group the caller is a member of; adding a
// member again is a no-op (204).
func (s *service) addMember(w http.ResponseWriter, r *http.Request, p principal) error {
	return s.addMemberAs(w, r, p, false)
}

// removeMember removes a member (or the caller: leaving) from a group the
// caller is a member of; removing a non-member is a no-op (204).
func (s *service) removeMember(w http.ResponseWriter, r *http.Request, p principal) error {
	return s.removeMemberAs(w, r, p, false)
}

// addMemberAs is addMember for a member of the group, or (asAdmin) for an
// admin who need not be one (the admin API): one path, so the change is
// logged and announced the same way.
func (s *service) addMemberAs(w http.ResponseWriter, r *http.Request, p principal, asAdmin bool) error {
	var req addMemberRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if !validID(req.UserID) {
		return invalid("userId", "is required")
	}
	if !asAdmin {
		if _, err := s.memberConversation(r, p); err != nil {
			return err
		}
	}
	switch _, err := s.dir.UserByID(r.Context(), req.UserID); {
	case errors.Is(err, store.ErrNotFound):
		return invalid("userId", "no user %q", req.UserID)
	case err != nil:
		return err
	}
	return s.changeMembers(w, r, p, asAdmin, directory.MemberChange{Op: "add", User: req.UserID, By: p.User, At: s.now().UTC()},
		func(c directory.Conversation) ([]string, bool, error) {
			if c.IsMember(req.UserID) {
				return nil, false, nil
			}
			if len(c.Members) >= maxGroupMembers {
				return nil, false, problem(http.StatusConflict, "group is full (%d members)", maxGroupMembers)
			}
			return append(slices.Clone(c.Members), req.UserID), true, nil
		})
}

// removeMemberAs is removeMember for a member or (asAdmin) an admin.
func (s *service) removeMemberAs(w http.ResponseWriter, r *http.Request, p principal, asAdmin bool) error {
	user := r.PathValue("userId")
	return s.changeMembers(w, r, p, asAdmin, directory.MemberChange{Op: "remove", User: user, By: p.User, At: s.now().UTC()}, removing(user))
}

// changeMembers applies next to a group the caller belongs to (checked on
// the state the change is computed from; an admin need not belong) and
// answers 204.
func (s *service) changeMembers(w http.ResponseWriter, r *http.Request, p principal, asAdmin bool, mc directory.MemberChange, next func(directory.Conversation) ([]string, bool, error)) error {
	if _, err := s.applyMembers(r.Context(), r.PathValue("id"), p, asAdmin, mc, next); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// applyMembers stores the change and, if it changed anything, announces
// it: the one path of every membership change (members, admins, a
// user's deletion).
func (s *service) applyMembers(ctx context.Context, id string, p principal, asAdmin bool, mc directory.MemberChange, next func(directory.Conversation) ([]string, bool, error)) (bool, error) {
	c, changed, err := s.dir.ChangeMembers(ctx, id, mc,
		func(c directory.Conversation) ([]string, bool, error) {
			switch {
			case !asAdmin && !c.IsMember(p.User):
				return nil, false, notFound("conversation")
			case c.Kind != directory.Group:
				return nil, false, problem(http.StatusConflict, "members of a direct conversation cannot change")
			}
			return next(c)
		})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return false, notFound("conversation")
	case errors.Is(err, directory.ErrContention):
		return false, &Problem{Status: http.StatusServiceUnavailable, Detail: "conversation is changing; try again", retryAfter: time.Second}
	case err != nil:
		return false, err
	}
	if changed {
		s.log.Info("accounts: members changed", "conversation", c.ID, "op", mc.Op, "rev", c.Rev, "by", p.User, "asAdmin", asAdmin)
		var removed []string
		if mc.Op == directory.OpRemove {
			removed = []string{mc.User}
		}
		s.announceConversation(ctx, c, p, removed...)
	}
	return changed, nil
}

// removing is the change that takes user out of a group (if a member).
func removing(user string) func(directory.Conversation) ([]string, bool, error) {
	return func(c directory.Conversation) ([]string, bool, error) {
		if !c.IsMember(user) {
			return nil, false, nil
		}
		return slices.DeleteFunc(slices.Clone(c.Members), func(m string) bool { return m == user }), true, nil
	}
}
