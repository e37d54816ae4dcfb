package function

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/agentchat/agentchat/store/audit"
)

// The admin API (docs/accounts.md, "Admin API"): routes under /v1/admin,
// each an action by an admin, each written to the audit log.
//
// Who is an admin is configuration, not data: ACCOUNTS_ADMINS lists user
// ids (server-made and unguessable, so no one can sign up as a future
// admin). An operator signs the account up, reads its userId from the
// login answer, puts it in the Secret and rolls accounts out. There is
// no default admin and no default password.

// adminRoutes registers the admin API on mux.
func (s *service) adminRoutes(mux *http.ServeMux) {
	mux.Handle("GET /v1/admin/users", s.admin("user.list", "", s.adminListUsers))
	mux.Handle("POST /v1/admin/users/{userId}/suspend", s.admin("user.suspend", "userId", s.adminSuspend))
	mux.Handle("POST /v1/admin/users/{userId}/unsuspend", s.admin("user.unsuspend", "userId", s.adminUnsuspend))
	mux.Handle("DELETE /v1/admin/users/{userId}", s.admin("user.delete", "userId", s.adminDeleteUser))
	mux.Handle("DELETE /v1/admin/devices/{deviceId}", s.admin("device.revoke", "deviceId", s.adminRevokeDevice))
	mux.Handle("GET /v1/admin/conversations/{id}", s.admin("conversation.get", "id", s.adminGetConversation))
	mux.Handle("POST /v1/admin/conversations/{id}/members", s.admin("conversation.member.add", "id", s.adminAddMember))
	mux.Handle("DELETE /v1/admin/conversations/{id}/members/{userId}", s.admin("conversation.member.remove", "id", s.adminRemoveMember))
	mux.Handle("POST /v1/admin/agents", s.admin("agent.register", "", s.adminRegisterAgent))
	mux.Handle("PUT /v1/admin/agents/{agentId}/key", s.admin("agent.rotate-key", "agentId", s.adminRotateAgentKey))
	mux.Handle("GET /v1/admin/audit", s.admin("audit.list", "", s.adminListAudit))
	mux.Handle("GET /v1/admin/deadletters", s.admin("deadletter.list", "", s.adminListDeadLetters))
	mux.Handle("GET /v1/admin/deadletters/{id}", s.admin("deadletter.get", "id", s.adminGetDeadLetter))
	mux.Handle("POST /v1/admin/deadletters/{id}/replay", s.admin("deadletter.replay", "id", s.adminReplayDeadLetter))
}

// isAdmin reports whether user holds the admin role (ACCOUNTS_ADMINS).
func (s *service) isAdmin(user string) bool { return slices.Contains(s.cfg.Admins, user) }

// admin wraps an admin action: the caller must be authenticated (401,
// not audited: there is no one to name) and an admin (403, audited as
// denied, coalesced: audit.Log.Deny keeps one entry per caller and action
// per minute with the number of attempts, so that a non-admin cannot
// flood the log). The action is written to the audit log before it runs
// — if the log cannot be written, nothing is done (503) — and its outcome
// after. target names the path value the action is about ("" for none).
func (s *service) admin(action, target string, h authedFunc) http.Handler {
	return s.authed(func(w http.ResponseWriter, r *http.Request, p principal) error {
		e := audit.Entry{ID: newID("au-"), At: s.now().UTC(), Actor: p.User, ActorDevice: p.Device, Action: action}
		if target != "" {
			e.Target = r.PathValue(target)
		}
		if !s.isAdmin(p.User) {
			err := problem(http.StatusForbidden, "this needs the admin role")
			s.denyAudit(r.Context(), e, err)
			return err
		}
		if err := s.audit.Begin(r.Context(), e); err != nil {
			s.log.Error("accounts: audit log unavailable; admin action refused", "action", action, "err", err)
			return &Problem{Status: http.StatusServiceUnavailable, Detail: "the audit log is unavailable; nothing was done, try again later", retryAfter: 5 * time.Second}
		}
		rec := &statusRecorder{ResponseWriter: w}
		err := h(rec, r, p)
		outcome, status, detail := audit.OK, rec.status, ""
		if err != nil {
			outcome, status, detail = audit.Failed, http.StatusInternalServerError, "internal error"
			if pr, ok := err.(*Problem); ok {
				status, detail = pr.Status, pr.Detail
			}
		}
		s.log.Info("accounts: admin action", "action", action, "admin", p.User, "target", e.Target, "outcome", outcome, "status", status)
		s.finishAudit(r.Context(), e, outcome, status, detail)
		return err
	})
}

// finishAudit records the outcome even if the caller hung up: the action
// ran. A failure leaves the entry "pending" (logged), which audit's
// package comment explains.
func (s *service) finishAudit(ctx context.Context, e audit.Entry, outcome string, status int, detail string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := s.audit.Finish(ctx, e.ID, outcome, status, detail, s.now().UTC()); err != nil {
		s.log.Error("accounts: audit outcome not recorded (the entry stays pending)", "entry", e.ID, "action", e.Action, "outcome", outcome, "err", err)
	}
}

// denyAudit records a denied attempt (coalesced by the log). Nothing was
// done, so a log that cannot be written does not change the answer (403):
// the failure is logged instead. There is no log line per attempt: the
// entry is the record, and a line per attempt would be the flood again.
func (s *service) denyAudit(ctx context.Context, e audit.Entry, pr *Problem) {
	e.Status, e.Detail = pr.Status, pr.Detail
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := s.audit.Deny(ctx, e); err != nil {
		s.log.Error("accounts: denied admin attempt not recorded", "action", e.Action, "user", e.Actor, "err", err)
	}
}

// userIDs is a comma-separated list of user ids (ACCOUNTS_ADMINS).
type userIDs []string

// UnmarshalText reads ACCOUNTS_ADMINS (for fn.Load).
func (u *userIDs) UnmarshalText(b []byte) error {
	*u = nil
	for _, s := range strings.Split(string(b), ",") {
		if s = strings.TrimSpace(s); s != "" {
			*u = append(*u, s)
		}
	}
	return nil
}

// pageLimit reads ?limit= (default def, 1 to max).
func pageLimit(r *http.Request, def, max int) (int, error) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return def, nil
	}
	n := 0
	for _, c := range v {
		if c < '0' || c > '9' || n > max {
			return 0, invalid("limit", "a number from 1 to %d", max)
		}
		n = n*10 + int(c-'0')
	}
	if n < 1 || n > max {
		return 0, invalid("limit", "a number from 1 to %d", max)
	}
	return n, nil
}
