package function

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/store"
	"github.com/agentchat/agentchat/store/audit"
	"github.com/agentchat/agentchat/store/directory"
)

// adminUserView is a user as an admin sees it: never a password hash.
type adminUserView struct {
	userView
	CreatedAt   time.Time  `json:"createdAt"`
	SuspendedAt *time.Time `json:"suspendedAt,omitempty"`
	DeletedAt   *time.Time `json:"deletedAt,omitempty"`
	Admin       bool       `json:"admin,omitempty"`
}

func (s *service) viewAdminUser(u directory.User) adminUserView {
	return adminUserView{userView: viewUser(u), CreatedAt: u.CreatedAt, SuspendedAt: u.SuspendedAt, DeletedAt: u.DeletedAt, Admin: s.isAdmin(u.ID)}
}

// adminListUsers pages through users and agents by id (?after=, ?limit=).
func (s *service) adminListUsers(w http.ResponseWriter, r *http.Request, _ principal) error {
	limit, err := pageLimit(r, 100, 1000)
	if err != nil {
		return err
	}
	us, err := s.dir.Users(r.Context(), r.URL.Query().Get("after"), limit)
	if err != nil {
		return err
	}
	out := make([]adminUserView, 0, len(us))
	for _, u := range us {
		out = append(out, s.viewAdminUser(u))
	}
	resp := map[string]any{"users": out}
	if len(us) == limit {
		resp["next"] = us[len(us)-1].ID
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// adminSuspend suspends an account: stored first (login, refresh and
// every authenticated request of accounts refuse it from then on), then
// announced on the connectors' revocation channel with a mark their
// admission check reads (announceSuspended), so that every socket of the
// user closes (4004) and no token of it opens a new one. Suspending twice
// is fine and announces again: a 503 from a failed announcement is
// finished by repeating the call. Admins cannot be suspended (take them
// out of ACCOUNTS_ADMINS first), so the last admin cannot lock everyone out.
func (s *service) adminSuspend(w http.ResponseWriter, r *http.Request, _ principal) error {
	id := r.PathValue("userId")
	if s.isAdmin(id) {
		return problem(http.StatusConflict, "admins cannot be suspended; remove them from ACCOUNTS_ADMINS first")
	}
	now := s.now().UTC()
	u, err := s.dir.SetSuspended(r.Context(), id, &now)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return notFound("user")
	case err != nil:
		return err
	}
	if err := s.announceSuspended(r.Context(), id, true); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.viewAdminUser(u))
	return nil
}

// adminUnsuspend lifts a suspension: the user may log in again, and its
// unexpired tokens work again.
func (s *service) adminUnsuspend(w http.ResponseWriter, r *http.Request, _ principal) error {
	id := r.PathValue("userId")
	switch u, err := s.dir.UserByID(r.Context(), id); {
	case errors.Is(err, store.ErrNotFound):
		return notFound("user")
	case err != nil:
		return err
	case u.DeletedAt != nil:
		return problem(http.StatusConflict, "the user is deleted")
	}
	u, err := s.dir.SetSuspended(r.Context(), id, nil)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return notFound("user")
	case err != nil:
		return err
	}
	if err := s.announceSuspended(r.Context(), id, false); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.viewAdminUser(u))
	return nil
}

// adminDeleteUser deletes an account (a person or an agent) with what is
// its own, in an order a repeated call finishes (every step is
// idempotent; a 503 or 500 on the way is finished by repeating it):
//
//  1. cut off as by a suspension (announceSuspended: every socket closes,
//     every token is refused at once);
//  2. every current device revoked as its owner would (refresh tokens
//     revoked, device.changed: nobody seals for its keys any more);
//  3. removed from every group it is in, announced as a member's
//     removal (conversation.changed with removed);
//  4. marked deleted (directory.MarkDeleted): no password, so no login.
//
// Kept: the user record (id, username, name) so that the sender ids in
// the other members' history resolve and the username cannot be taken
// to pass for them; its revoked devices' public and signing keys (old
// signatures still verify); direct conversations (their members never
// change; the other member keeps the history, and with no device left
// nothing new is sealed for the deleted user); every stored message —
// ciphertext the other members hold keys for, not the deleted user's to
// take back. Admins cannot be deleted (as they cannot be suspended).
func (s *service) adminDeleteUser(w http.ResponseWriter, r *http.Request, p principal) error {
	id := r.PathValue("userId")
	if s.isAdmin(id) {
		return problem(http.StatusConflict, "admins cannot be deleted; remove them from ACCOUNTS_ADMINS first")
	}
	ctx := r.Context()
	now := s.now().UTC()
	switch _, err := s.dir.SetSuspended(ctx, id, &now); {
	case errors.Is(err, store.ErrNotFound):
		return notFound("user")
	case err != nil:
		return err
	}
	if err := s.announceSuspended(ctx, id, true); err != nil {
		return err
	}
	ds, err := s.dir.CurrentDevices(ctx, []string{id})
	if err != nil {
		return err
	}
	for _, d := range ds {
		if err := s.revoke(ctx, id, d.ID, p); err != nil {
			return err
		}
	}
	groups := 0
	for {
		cs, err := s.dir.ConversationsOf(ctx, id, maxListed)
		if err != nil {
			return err
		}
		progress := false
		for _, c := range cs {
			if c.Kind != directory.Group {
				continue
			}
			mc := directory.MemberChange{Op: directory.OpRemove, User: id, By: p.User, At: s.now().UTC()}
			changed, err := s.applyMembers(ctx, c.ID, p, true, &mc, removing(id, &mc))
			if err != nil {
				return err
			}
			if changed {
				groups++
				progress = true
			}
		}
		// A full page may hide more groups behind it; direct
		// conversations stay listed, so stop when a page changes nothing.
		if len(cs) < maxListed || !progress {
			break
		}
	}
	u, err := s.dir.MarkDeleted(ctx, id, now)
	if err != nil {
		return err
	}
	s.log.Info("accounts: user deleted", "user", id, "devices", len(ds), "groups", groups, "by", p.User)
	writeJSON(w, http.StatusOK, s.viewAdminUser(u))
	return nil
}

// announceSuspended extends the device-revocation mechanism
// (announceRevoked) to a whole account: it sets (or, lifting, deletes)
// events.SuspendedKey for the access-token TTL — connectors refuse the
// user's devices at upgrade while it is there, and after it tokens
// issued before the suspension have expired — and publishes
// events.UserSuspended on events.RevocationChannel, on which every
// connector closes the user's sockets. Unlike a device revocation this
// is not best effort: the admin is told (503) and may repeat the call.
func (s *service) announceSuspended(ctx context.Context, user string, on bool) error {
	if s.redis == nil {
		s.log.Warn("accounts: REDIS_URL not set: connectors are not told of the suspension change", "user", user)
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	key := events.SuspendedKey(s.cfg.RedisPrefix, user)
	pipe := s.redis.Pipeline()
	if on {
		msg, _ := json.Marshal(events.UserSuspended{Type: events.TypeUserSuspended, User: user})
		pipe.Set(ctx, key, "1", s.cfg.AccessTokenTTL)
		pipe.Publish(ctx, events.RevocationChannel(s.cfg.RedisPrefix), msg)
	} else {
		pipe.Del(ctx, key)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		s.log.Error("accounts: announce a suspension change", "user", user, "suspended", on, "err", err)
		return &Problem{Status: http.StatusServiceUnavailable, retryAfter: 5 * time.Second,
			Detail: "stored, but the connectors could not be told; repeat the request"}
	}
	return nil
}

// adminRevokeDevice revokes any user's device, as its owner can
// (revokeDevice).
func (s *service) adminRevokeDevice(w http.ResponseWriter, r *http.Request, p principal) error {
	id := r.PathValue("deviceId")
	d, err := s.dir.DeviceByID(r.Context(), id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return notFound("device")
	case err != nil:
		return err
	}
	if err := s.revoke(r.Context(), d.User, id, p); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// adminListAudit lists the audit log, newest first (?actor=, ?target=,
// ?action=, ?before= the previous page's next, ?limit=).
func (s *service) adminListAudit(w http.ResponseWriter, r *http.Request, _ principal) error {
	limit, err := pageLimit(r, 100, 1000)
	if err != nil {
		return err
	}
	qv := r.URL.Query()
	q := audit.Query{Actor: qv.Get("actor"), Target: qv.Get("target"), Action: qv.Get("action"), Limit: limit}
	if b := qv.Get("before"); b != "" {
		ms, id, ok := strings.Cut(b, ".")
		n, err := strconv.ParseInt(ms, 10, 64)
		if !ok || err != nil || id == "" {
			return invalid("before", "not a cursor from a previous page's next")
		}
		q.Before = audit.Cursor{At: time.UnixMilli(n).UTC(), ID: id}
	}
	es, err := s.audit.List(r.Context(), q)
	if err != nil {
		return err
	}
	resp := map[string]any{"entries": es}
	if len(es) == limit {
		last := es[len(es)-1]
		resp["next"] = strconv.FormatInt(last.At.UnixMilli(), 10) + "." + last.ID
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}
