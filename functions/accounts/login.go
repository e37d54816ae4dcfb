package function

import (
	"context"
	"errors"
	"net/http"
	"time"

	"function/internal/ratelimit"
	"github.com/agentchat/agentchat/store"
	"github.com/agentchat/agentchat/store/directory"
)

type loginRequest struct {
	Username   string `json:"username"`
	Password   string `json:"password"`
	DeviceID   string `json:"deviceId"`
	DeviceName string `json:"deviceName"`
	PublicKey  string `json:"publicKey"`
}

// login checks a password and opens a session on a device: an existing one
// (deviceId) or a new one registered with its public key. Attempts are
// counted per username and per client address before the password is
// checked, so concurrent guesses cannot slip past the limit.
func (s *service) login(w http.ResponseWriter, r *http.Request) error {
	var req loginRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	username := normalizeUsername(req.Username)
	switch {
	case username == "":
		return invalid("username", "is required")
	case req.Password == "":
		return invalid("password", "is required")
	case len(req.Password) > maxPassword:
		return invalid("password", "longer than %d bytes", maxPassword)
	case req.DeviceID != "" && !validID(req.DeviceID):
		return invalid("deviceId", "malformed")
	}
	var publicKey string
	if req.DeviceID == "" || req.PublicKey != "" {
		if req.PublicKey == "" {
			return invalid("publicKey", "is required to register a new device (no deviceId given)")
		}
		var err error
		if publicKey, err = checkPublicKey("publicKey", req.PublicKey); err != nil {
			return err
		}
	}
	deviceName, err := checkName("deviceName", req.DeviceName, "device")
	if err != nil {
		return err
	}

	ctx := r.Context()
	addr := clientIP(r, s.cfg.TrustedProxyHops)
	userKey, ipKey := "login:user:"+username, "login:ip:"+addr
	if err := s.takeLoginAttempt(ctx, userKey, ipKey); err != nil {
		return err
	}
	u, err := s.dir.UserByUsername(ctx, username)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	ok, err := s.hasher.Verify(ctx, req.Password, u.PasswordHash) // "" for an unknown user: same cost
	if err != nil {
		return err
	}
	if !ok {
		s.log.Info("accounts: login failed", "ip", ipKey[len("login:ip:"):])
		return unauthorized("", "wrong username or password")
	}
	s.forgiveLogin(ctx, userKey, ipKey)
	if u.Suspended() {
		return suspendedProblem() // told only to whoever knows the password
	}

	d, err := s.loginDevice(ctx, u.ID, req.DeviceID, deviceName, publicKey, addr)
	if err != nil {
		return err
	}
	resp, _, err := s.issue(ctx, u.ID, d.ID, "")
	if err != nil {
		return err
	}
	s.log.Info("accounts: logged in", "user", u.ID, "device", d.ID)
	writeSession(w, resp)
	return nil
}

// takeLoginAttempt counts one attempt on both keys; 429 with Retry-After if
// either is over its limit. A limiter outage lets logins through (logged):
// the password check still guards every account.
func (s *service) takeLoginAttempt(ctx context.Context, userKey, ipKey string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Second) // a hung Redis must not hang logins
	defer cancel()
	userWait, err1 := s.limiter.Take(ctx, userKey, s.cfg.LoginRate.User)
	ipWait, err2 := s.limiter.Take(ctx, ipKey, s.cfg.LoginRate.IP)
	if err := errors.Join(err1, err2); err != nil {
		s.log.Error("accounts: login rate limiter unavailable; not limiting", "err", err)
		return nil
	}
	if wait := max(userWait, ipWait); wait > 0 {
		return &Problem{Status: http.StatusTooManyRequests, Detail: "too many login attempts; try again later", retryAfter: wait}
	}
	return nil
}

// Codes of the 429 problems of the registration limits (Problem.Code):
// which limit refused, so that a client can say who must wait.
const (
	codeSignupsPerAddress = "signups_per_address" // REGISTER_RATE signup
	codeDevicesPerAddress = "devices_per_address" // REGISTER_RATE device (new devices and agents)
	codeDevicesPerUser    = "devices_per_user"    // USER_REGISTER_RATE device
	codeAgentsPerUser     = "agents_per_user"     // USER_REGISTER_RATE agent
)

// takeRegistration counts one creation (a sign-up, a new device, an agent)
// for key (a client address's or an account's); 429 with Retry-After, code
// and detail over the rule. Like the login limits it fails open on a
// limiter outage (logged).
func (s *service) takeRegistration(ctx context.Context, key string, rule ratelimit.Rule, code, detail string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	wait, err := s.limiter.Take(ctx, key, rule)
	if err != nil {
		s.log.Error("accounts: registration rate limiter unavailable; not limiting", "err", err)
		return nil
	}
	if wait > 0 {
		s.log.Info("accounts: registration limited", "key", key)
		return &Problem{Status: http.StatusTooManyRequests, Detail: detail, Code: code, retryAfter: wait}
	}
	return nil
}

// forgiveLogin: a success clears the username's failures and takes back its
// attempt from the address.
func (s *service) forgiveLogin(ctx context.Context, userKey, ipKey string) {
	if err := errors.Join(s.limiter.Reset(ctx, userKey), s.limiter.Forgive(ctx, ipKey)); err != nil {
		s.log.Warn("accounts: login rate limiter", "err", err)
	}
}

// loginDevice returns the device a login opens a session on. With an id it
// must be the user's and not revoked. Without, the device holding the
// public key is reused when the user already has it (a retried login makes
// no second device), else a new one is inserted — counted against the
// client address's device limit (REGISTER_RATE) and the user's
// (USER_REGISTER_RATE); the unique (user, publicKey) index settles
// concurrent retries.
func (s *service) loginDevice(ctx context.Context, user, id, name, publicKey, addr string) (directory.Device, error) {
	if id != "" {
		d, err := s.dir.DeviceByID(ctx, id)
		switch {
		case errors.Is(err, store.ErrNotFound) || err == nil && d.User != user:
			return d, notFound("device")
		case err != nil:
			return d, err
		case d.Revoked():
			return d, problem(http.StatusForbidden, "device revoked; log in without deviceId to register a new one")
		case publicKey != "" && publicKey != d.PublicKey:
			return d, invalid("publicKey", "differs from the device's key (device keys never change)")
		}
		return d, nil
	}
	for attempt := range 2 {
		d, err := s.dir.DeviceByKey(ctx, user, publicKey)
		switch {
		case err == nil && d.Revoked():
			return d, problem(http.StatusConflict, "publicKey belongs to a revoked device; generate a new key pair")
		case err == nil:
			return d, nil
		case !errors.Is(err, store.ErrNotFound):
			return d, err
		}
		if attempt == 0 {
			if err := s.takeRegistration(ctx, "device:ip:"+addr, s.cfg.RegisterRate.Device,
				codeDevicesPerAddress, "too many new devices from this address; try again later"); err != nil {
				return d, err
			}
			if err := s.takeRegistration(ctx, "device:user:"+user, s.cfg.UserRegisterRate.Device,
				codeDevicesPerUser, "too many new devices for this account; try again later"); err != nil {
				return d, err
			}
		}
		d = directory.Device{ID: newID("dv-"), User: user, Name: name, PublicKey: publicKey, CreatedAt: s.now().UTC()}
		err = s.dir.InsertDevice(ctx, d)
		if err == nil {
			s.log.Info("accounts: device registered", "user", user, "device", d.ID)
			s.announceDevice(ctx, d)
			return d, nil
		}
		if !errors.Is(err, store.ErrDuplicate) {
			return d, err
		}
		// a concurrent login registered this key first: read it back
	}
	return directory.Device{}, problem(http.StatusConflict, "device registration raced; try again")
}
