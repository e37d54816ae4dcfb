package function

import (
	"errors"
	"net/http"

	"function/internal/refreshstore"
	"github.com/agentchat/agentchat/store"
)

type refreshRequest struct {
	RefreshToken string `json:"refreshToken"`
}

// refresh exchanges a refresh token for a new pair. Each token works once:
// the exchange is claimed by an insert keyed by the old token's hash, so
// of concurrent exchanges one wins. Presenting a token that was already
// exchanged means two parties hold it (theft, or a client bug): every
// refresh token of that device is revoked and the device must log in again.
func (s *service) refresh(w http.ResponseWriter, r *http.Request) error {
	var req refreshRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if req.RefreshToken == "" || len(req.RefreshToken) > 256 {
		return invalid("refreshToken", "is required")
	}
	ctx := r.Context()
	now := s.now().UTC()
	hash := hashToken(req.RefreshToken)
	t, err := s.tokens.RefreshTokenByHash(ctx, hash)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return unauthorized("invalid_token", "refresh token invalid")
	case err != nil:
		return err
	case t.RevokedAt != nil || !now.Before(t.ExpiresAt):
		return unauthorized("invalid_token", "refresh token expired or revoked")
	case t.UsedAt != nil:
		return s.refreshReused(r, t)
	}
	d, err := s.dir.DeviceByID(ctx, t.Device)
	switch {
	case errors.Is(err, store.ErrNotFound) || err == nil && d.Revoked():
		return unauthorized("invalid_token", "device revoked")
	case err != nil:
		return err
	}
	if err := s.checkNotSuspended(ctx, t.User); err != nil {
		return err
	}
	// Insert the new token before claiming the old one: if the claim fails
	// the new token is unclaimed and its secret was never handed out.
	resp, childHash, err := s.issue(ctx, t.User, t.Device, hash)
	if err != nil {
		return err
	}
	switch err := s.tokens.ClaimRotation(ctx, hash, childHash, now); {
	case errors.Is(err, store.ErrDuplicate):
		return s.refreshReused(r, t)
	case err != nil:
		return err
	}
	if err := s.tokens.MarkUsed(ctx, hash, now); err != nil {
		s.log.Warn("accounts: refresh", "err", err)
	}
	writeSession(w, resp)
	return nil
}

// refreshReused revokes the device's refresh tokens after a reuse.
func (s *service) refreshReused(r *http.Request, t refreshstore.RefreshToken) error {
	s.log.Warn("accounts: refresh token reused; revoking the device's refresh tokens", "user", t.User, "device", t.Device)
	if err := s.tokens.RevokeDeviceTokens(r.Context(), t.Device, s.now().UTC()); err != nil {
		return err
	}
	return unauthorized("invalid_token", "refresh token already used; log in again")
}
