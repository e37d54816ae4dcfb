package function

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/agentchat/agentchat/sdk/events"

	"github.com/agentchat/agentchat/store"
)

type deviceView struct {
	DeviceID   string    `json:"deviceId"`
	Name       string    `json:"name"`
	PublicKey  string    `json:"publicKey"`
	SigningKey string    `json:"signingKey,omitempty"`
	CreatedAt  time.Time `json:"createdAt"`
	Current    bool      `json:"current"` // the device making the request
}

// keyView is one entry of a key directory: whom a sender wraps for, and
// the key its messages are verified with (absent for a device registered
// before signing: its messages show as unverified).
type keyView struct {
	UserID     string `json:"userId,omitempty"`
	DeviceID   string `json:"deviceId"`
	PublicKey  string `json:"publicKey"`
	SigningKey string `json:"signingKey,omitempty"`
	Agent      bool   `json:"agent,omitempty"` // conversation device lists: an agent's device (sender keys wrap for it)
}

// myDevices lists the caller's current (non-revoked) devices.
func (s *service) myDevices(w http.ResponseWriter, r *http.Request, p principal) error {
	ds, err := s.dir.CurrentDevices(r.Context(), []string{p.User})
	if err != nil {
		return err
	}
	out := make([]deviceView, 0, len(ds))
	for _, d := range ds {
		out = append(out, deviceView{DeviceID: d.ID, Name: d.Name, PublicKey: d.PublicKey, SigningKey: d.SigningKey, CreatedAt: d.CreatedAt, Current: d.ID == p.Device})
	}
	writeJSON(w, http.StatusOK, map[string]any{"devices": out})
	return nil
}

// revokeDevice revokes one of the caller's devices (possibly the calling
// one) and its refresh tokens; revoking twice is fine.
func (s *service) revokeDevice(w http.ResponseWriter, r *http.Request, p principal) error {
	if err := s.revoke(r.Context(), p.User, r.PathValue("deviceId"), p); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// revoke revokes user's device id and its refresh tokens, and tells the
// connectors and the pipeline; by is who asked (the owner, or an admin).
func (s *service) revoke(ctx context.Context, user, id string, by principal) error {
	now := s.now().UTC()
	d, err := s.dir.RevokeDevice(ctx, user, id, now)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return notFound("device")
	case err != nil:
		return err
	}
	// The device is the authority (refresh and authentication check it),
	// so a failure before the tokens are revoked leaves none usable, and
	// repeating the call finishes the job.
	if err := s.tokens.RevokeDeviceTokens(ctx, id, now); err != nil {
		return err
	}
	// Nothing pushes to a revoked device (it is in no audience), but its
	// subscription would keep the endpoint: drop it.
	if err := s.pushSubs.Delete(ctx, id); err != nil {
		return err
	}
	s.log.Info("accounts: device revoked", "user", user, "device", id, "by", by.User, "byDevice", by.Device)
	s.announceRevoked(ctx, user, id)
	s.announceDevice(ctx, d)
	return nil
}

// userDevices is a user's (or agent's) key directory: its current devices.
func (s *service) userDevices(w http.ResponseWriter, r *http.Request, p principal) error {
	id := r.PathValue("userId")
	switch _, err := s.dir.UserByID(r.Context(), id); {
	case errors.Is(err, store.ErrNotFound):
		return notFound("user")
	case err != nil:
		return err
	}
	ds, err := s.dir.CurrentDevices(r.Context(), []string{id})
	if err != nil {
		return err
	}
	out := make([]keyView, 0, len(ds))
	for _, d := range ds {
		out = append(out, keyView{DeviceID: d.ID, PublicKey: d.PublicKey, SigningKey: d.SigningKey})
	}
	writeJSON(w, http.StatusOK, map[string]any{"devices": out})
	return nil
}

// announceRevoked tells the connectors (events.RevocationChannel) so that
// the one holding the device closes its socket now rather than when its
// token expires, and marks the device (events.RevokedKey) so that no
// connector lets it in again with a token issued before. Best effort: the revocation is already stored, and
// everything downstream refuses a revoked device; without Redis there is
// no one to tell.
func (s *service) announceRevoked(ctx context.Context, user, device string) {
	if s.redis == nil {
		return
	}
	// The revocation is stored: announce it even if the caller hangs up.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	msg, _ := json.Marshal(events.DeviceRevoked{Type: events.TypeDeviceRevoked, User: user, Device: device})
	pipe := s.redis.Pipeline()
	pipe.Set(ctx, events.RevokedKey(s.cfg.RedisPrefix, user, device), "1", s.cfg.AccessTokenTTL)
	pipe.Publish(ctx, events.RevocationChannel(s.cfg.RedisPrefix), msg)
	if _, err := pipe.Exec(ctx); err != nil {
		s.log.Warn("accounts: announce the revocation (connected sockets stay until their tokens expire)",
			"user", user, "device", device, "err", err)
	}
}
