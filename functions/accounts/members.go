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

// A group's rules (WhatsApp's): its creator is its first admin; only an
// admin adds or removes members and makes or unmakes admins; anyone
// leaves; a group with members always keeps an admin — when the last one
// leaves or is removed, the longest-standing person left (an agent only
// if no person is) becomes one in the same change. A group made before
// admins existed has none, and every member may manage it
// (directory.Conversation.IsAdmin). The platform's admin API bypasses the
// admin check (it need not even be a member) but keeps every other rule.

type addMemberRequest struct {
	UserID string `json:"userId"`
}

// addMember adds a user (a person or an agent) to a group the caller is an
// admin of; adding a member again is a no-op (204).
func (s *service) addMember(w http.ResponseWriter, r *http.Request, p principal) error {
	return s.addMemberAs(w, r, p, false)
}

// removeMember removes a member from a group the caller is an admin of,
// or the caller itself from any group it is in (leaving); removing a
// non-member is a no-op (204).
func (s *service) removeMember(w http.ResponseWriter, r *http.Request, p principal) error {
	return s.removeMemberAs(w, r, p, false)
}

// addMemberAs is addMember for an admin of the group, or (asAdmin) for a
// platform admin who need not be a member (the admin API): one path, so
// the change is logged and announced the same way.
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
	return s.changeMembers(w, r, p, asAdmin, &directory.MemberChange{Op: directory.OpAdd, User: req.UserID, By: p.User, At: s.now().UTC()},
		func(c directory.Conversation) (directory.Roster, bool, error) {
			if err := mayManage(c, p, asAdmin); err != nil {
				return directory.Roster{}, false, err
			}
			if c.IsMember(req.UserID) {
				return directory.Roster{}, false, nil
			}
			if len(c.Members) >= maxGroupMembers {
				return directory.Roster{}, false, problem(http.StatusConflict, "group is full (%d members)", maxGroupMembers)
			}
			ro := c.Roster()
			ro.Members = append(ro.Members, req.UserID)
			return ro, true, nil
		})
}

// removeMemberAs is removeMember for a member or (asAdmin) a platform
// admin. The caller removing itself is a leave, which needs no admin.
func (s *service) removeMemberAs(w http.ResponseWriter, r *http.Request, p principal, asAdmin bool) error {
	user := r.PathValue("userId")
	op := directory.OpRemove
	if user == p.User && !asAdmin {
		op = directory.OpLeave
	}
	mc := directory.MemberChange{Op: op, User: user, By: p.User, At: s.now().UTC()}
	people, err := s.people(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return s.changeMembers(w, r, p, asAdmin, &mc, func(c directory.Conversation) (directory.Roster, bool, error) {
		if op == directory.OpRemove {
			if err := mayManage(c, p, asAdmin); err != nil {
				return directory.Roster{}, false, err
			}
		}
		return removingFrom(c, user, people, &mc)
	})
}

type adminRequest struct {
	UserID string `json:"userId"`
}

// promote makes a member an admin (POST /v1/conversations/{id}/admins);
// an admin already is a no-op (204).
func (s *service) promote(w http.ResponseWriter, r *http.Request, p principal) error {
	var req adminRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if !validID(req.UserID) {
		return invalid("userId", "is required")
	}
	return s.setAdmin(w, r, p, req.UserID, true)
}

// demote makes an admin an ordinary member again (DELETE
// /v1/conversations/{id}/admins/{userId}); the last admin cannot be
// demoted (409): a group keeps one. Not an admin is a no-op (204).
func (s *service) demote(w http.ResponseWriter, r *http.Request, p principal) error {
	return s.setAdmin(w, r, p, r.PathValue("userId"), false)
}

func (s *service) setAdmin(w http.ResponseWriter, r *http.Request, p principal, user string, admin bool) error {
	op := directory.OpUnadmin
	if admin {
		op = directory.OpAdmin
	}
	return s.changeMembers(w, r, p, false, &directory.MemberChange{Op: op, User: user, By: p.User, At: s.now().UTC()},
		func(c directory.Conversation) (directory.Roster, bool, error) {
			if err := mayManage(c, p, false); err != nil {
				return directory.Roster{}, false, err
			}
			if !c.IsMember(user) {
				return directory.Roster{}, false, invalid("userId", "%q is not a member", user)
			}
			ro := c.Roster()
			if len(ro.Admins) == 0 {
				// a group from before admins: every member was one; from
				// now on the caller and whom it names are
				if !admin {
					return directory.Roster{}, false, problem(http.StatusConflict, "this group has no admins to demote")
				}
				ro.Admins = []string{p.User}
			}
			has := slices.Contains(ro.Admins, user)
			switch {
			case admin && has, !admin && !has:
				return directory.Roster{}, false, nil
			case admin:
				ro.Admins = append(ro.Admins, user)
			case len(ro.Admins) == 1:
				return directory.Roster{}, false, problem(http.StatusConflict, "a group keeps at least one admin: make someone else an admin first")
			default:
				ro.Admins = slices.DeleteFunc(ro.Admins, func(a string) bool { return a == user })
			}
			return ro, true, nil
		})
}

// mayManage is nil if p may add, remove, promote or demote in c: an admin
// of it (any member of a group without admins), or a platform admin.
func mayManage(c directory.Conversation, p principal, asAdmin bool) error {
	switch {
	case asAdmin:
		return nil
	case !c.IsMember(p.User):
		return notFound("conversation")
	case !c.IsAdmin(p.User):
		return problem(http.StatusForbidden, "only the group's admins can do that")
	}
	return nil
}

// changeMembers applies next to a group the caller belongs to (checked on
// the state the change is computed from; an admin need not belong) and
// answers 204.
func (s *service) changeMembers(w http.ResponseWriter, r *http.Request, p principal, asAdmin bool, mc *directory.MemberChange, next func(directory.Conversation) (directory.Roster, bool, error)) error {
	if _, err := s.applyMembers(r.Context(), r.PathValue("id"), p, asAdmin, mc, next); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// applyMembers stores the change and, if it changed anything, announces
// it: the one path of every membership change (members, admins, a
// user's deletion). next may set mc.Promoted; it is read after the change.
func (s *service) applyMembers(ctx context.Context, id string, p principal, asAdmin bool, mc *directory.MemberChange, next func(directory.Conversation) (directory.Roster, bool, error)) (bool, error) {
	c, changed, err := s.dir.ChangeMembers(ctx, id, *mc,
		func(c directory.Conversation) (directory.Roster, bool, error) {
			mc.Promoted = ""
			switch {
			case !asAdmin && !c.IsMember(p.User):
				return directory.Roster{}, false, notFound("conversation")
			case c.Kind != directory.Group:
				return directory.Roster{}, false, problem(http.StatusConflict, "members of a direct conversation cannot change")
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
		s.announceConversation(ctx, c, p, mc)
	}
	return changed, nil
}

// people is which members of conversation id are people (not agents), for
// choosing whom to promote; read before a change because next may not
// call the directory. A missing conversation is left to the change.
func (s *service) people(ctx context.Context, id string) (map[string]bool, error) {
	c, err := s.dir.Conversation(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	agents, err := s.dir.Agents(ctx, c.Members)
	if err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(c.Members))
	for _, m := range c.Members {
		out[m] = true
	}
	for _, a := range agents {
		delete(out, a.ID)
	}
	return out, nil
}

// removingFrom is c without user (no change if not a member). When user
// was the last admin and members remain, the longest-standing person left
// (else the longest-standing member) becomes an admin, noted in
// mc.Promoted. people may miss members added since it was read: they
// count as agents, which only lowers their turn.
func removingFrom(c directory.Conversation, user string, people map[string]bool, mc *directory.MemberChange) (directory.Roster, bool, error) {
	if !c.IsMember(user) {
		return directory.Roster{}, false, nil
	}
	ro := c.Roster()
	gone := func(m string) bool { return m == user }
	ro.Members = slices.DeleteFunc(ro.Members, gone)
	hadAdmins := len(ro.Admins) > 0
	ro.Admins = slices.DeleteFunc(ro.Admins, gone)
	if hadAdmins && len(ro.Admins) == 0 && len(ro.Members) > 0 {
		next := ro.Members[0]
		if i := slices.IndexFunc(ro.Members, func(m string) bool { return people[m] }); i >= 0 {
			next = ro.Members[i]
		}
		ro.Admins = []string{next}
		mc.Promoted = next
	}
	return ro, true, nil
}

// removing is the change that takes user out of a group (if a member),
// as a platform admin's deletion of the user does: the group keeps an
// admin (people unknown: the longest-standing member is promoted).
func removing(user string, mc *directory.MemberChange) func(directory.Conversation) (directory.Roster, bool, error) {
	return func(c directory.Conversation) (directory.Roster, bool, error) {
		return removingFrom(c, user, nil, mc)
	}
}
