package function

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/agentchat/agentchat/store"
)

// principal is who an authenticated request comes from.
type principal struct {
	User   string
	Device string
}

// authedFunc is a handler for an authenticated route.
type authedFunc func(w http.ResponseWriter, r *http.Request, p principal) error

// authed checks the bearer access token (signature, kid, audience, issuer,
// expiry) and that its device still exists, belongs to its user and is not
// revoked, and that the user is not suspended — so revoking a device or
// suspending a user cuts it off here at once, not only when its access
// token expires.
func (s *service) authed(h authedFunc) http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request) error {
		p, err := s.authenticate(r.Context(), r.Header.Get("Authorization"))
		if err != nil {
			return err
		}
		return h(w, r, p)
	})
}

func (s *service) authenticate(ctx context.Context, header string) (principal, error) {
	scheme, raw, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || raw == "" {
		return principal{}, unauthorized("", "an access token is required (Authorization: Bearer)")
	}
	c, err := s.signer.Verify(strings.TrimSpace(raw))
	if err != nil {
		s.log.Debug("accounts: bad access token", "err", err)
		return principal{}, unauthorized("invalid_token", "access token invalid or expired")
	}
	d, err := s.dir.DeviceByID(ctx, c.Device)
	switch {
	case errors.Is(err, store.ErrNotFound), err == nil && (d.User != c.Subject || d.Revoked()):
		return principal{}, unauthorized("invalid_token", "device revoked or unknown")
	case err != nil:
		return principal{}, err
	}
	if err := s.checkNotSuspended(ctx, c.Subject); err != nil {
		return principal{}, err
	}
	return principal{User: c.Subject, Device: c.Device}, nil
}

// handle adapts a handler that returns an error into an http.Handler that
// answers with the error's problem.
func (s *service) handle(h func(w http.ResponseWriter, r *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
}

// checkNotSuspended refuses a suspended account (403, code "suspended"):
// at login, refresh and every authenticated request.
func (s *service) checkNotSuspended(ctx context.Context, user string) error {
	u, err := s.dir.UserByID(ctx, user)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return unauthorized("invalid_token", "user unknown")
	case err != nil:
		return err
	case u.Suspended():
		return suspendedProblem()
	}
	return nil
}

// codeSuspended is the Problem.Code of a suspended account's refusals.
const codeSuspended = "suspended"

func suspendedProblem() *Problem {
	return &Problem{Status: http.StatusForbidden, Code: codeSuspended, Detail: "this account is suspended"}
}
