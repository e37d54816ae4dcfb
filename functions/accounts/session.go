package function

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"

	"function/internal/refreshstore"
)

// sessionResponse is what login and refresh answer.
type sessionResponse struct {
	UserID       string `json:"userId"`
	DeviceID     string `json:"deviceId"`
	AccessToken  string `json:"accessToken"`
	RefreshToken string `json:"refreshToken"`
	ExpiresIn    int    `json:"expiresIn"` // seconds the access token lives
}

// newRefreshToken makes a refresh token: 32 random bytes, base64url. Only
// its hash is stored.
func newRefreshToken() (raw, hash string) {
	b := make([]byte, 32)
	rand.Read(b)
	raw = base64.RawURLEncoding.EncodeToString(b)
	return raw, hashToken(raw)
}

func hashToken(raw string) string {
	h := sha256.Sum256([]byte(raw))
	return hex.EncodeToString(h[:])
}

// issue stores a fresh refresh token (child of parent, "" at login) and
// signs an access token for (user, device).
func (s *service) issue(ctx context.Context, user, device, parent string) (sessionResponse, string, error) {
	now := s.now().UTC()
	raw, hash := newRefreshToken()
	err := s.tokens.InsertRefreshToken(ctx, refreshstore.RefreshToken{
		Hash: hash, User: user, Device: device, Parent: parent, CreatedAt: now, ExpiresAt: now.Add(s.cfg.RefreshTokenTTL),
	})
	if err != nil {
		return sessionResponse{}, "", err
	}
	access, _, err := s.signer.Issue(user, device)
	if err != nil {
		return sessionResponse{}, "", err
	}
	return sessionResponse{
		UserID: user, DeviceID: device, AccessToken: access, RefreshToken: raw,
		ExpiresIn: int(s.signer.TTL().Seconds()),
	}, hash, nil
}

func writeSession(w http.ResponseWriter, resp sessionResponse) {
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, resp)
}
