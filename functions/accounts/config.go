package function

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/agentchat/agentchat/sdk/fn"

	"function/internal/ratelimit"
)

// Config is accounts' configuration, read once by Start from func's
// config map (fn.Load: the environment merged with ./cfg; an empty value,
// as a ConfigMap key that is present but empty arrives, means the
// default). docs/accounts.md lists the variables.
type Config struct {
	MongoURI      string `env:"MONGODB_URI" required:"true"`
	MongoDatabase string `env:"MONGODB_DATABASE" default:"agentchat"`

	// RedisURL backs the login rate limits shared by every replica; empty
	// means a per-process limiter (logged as a warning).
	RedisURL    string `env:"REDIS_URL"`
	RedisPrefix string `env:"REDIS_PREFIX" default:"agentchat:"`

	// Sink is the broker (K_SINK), where accounts announces the directory
	// changes it commits (io.agentchat.conversation.changed,
	// io.agentchat.device.changed); empty: no announcements (logged).
	Sink string `env:"K_SINK"`

	// SigningKeys is "kid:base64seed[,...]": the first signs, all verify
	// and are published. Empty: an ephemeral key (development only).
	SigningKeys     string        `env:"ACCOUNTS_SIGNING_KEYS"`
	AccessTokenTTL  time.Duration `env:"ACCESS_TOKEN_TTL" default:"15m" min:"1m" max:"24h"`
	RefreshTokenTTL time.Duration `env:"REFRESH_TOKEN_TTL" default:"720h"` // at least AccessTokenTTL

	// DeviceCacheTTL bounds how long accounts answers a conversation's key
	// directory (GET /v1/conversations/{id}/devices) from memory: each
	// user's devices are dropped at once by accounts' own device changes,
	// on every replica through Redis (REDIS_URL); the TTL is the backstop
	// for a lost broadcast. 0: every request reads MongoDB.
	DeviceCacheTTL time.Duration `env:"DEVICE_CACHE_TTL" default:"10s" min:"0" max:"1m"`

	LoginRate LoginRate `env:"LOGIN_RATE" default:"user=5/5m,ip=20/1m"`
	// RegisterRate limits sign-ups and new devices per client address.
	RegisterRate RegisterRate `env:"REGISTER_RATE" default:"signup=20/1h,device=60/1h"`
	// UserRegisterRate limits what one account creates, from any address:
	// its new devices, and the agents it registers.
	UserRegisterRate UserRegisterRate `env:"USER_REGISTER_RATE" default:"device=20/1h,agent=20/1h"`

	// AllowedOrigins may call the API from a browser (the connector's
	// origin, which serves the web client); "*" allows any origin.
	AllowedOrigins origins `env:"ALLOWED_ORIGINS"`
	// TrustedProxyHops is how many proxies in front of accounts append to
	// X-Forwarded-For; 0 uses the peer address. See clientIP.
	TrustedProxyHops int `env:"TRUSTED_PROXY_HOPS" default:"0" min:"0"`

	// Admins are the user ids that hold the admin role (admin.go); none
	// by default.
	Admins userIDs `env:"ACCOUNTS_ADMINS"`

	// VAPIDPublicKey is the Web Push application server key clients
	// subscribe with (base64url of the 65-byte P-256 point; the push
	// function holds its private key); empty: push is off, and the push
	// routes answer 404. PushEndpoints are the push services a
	// subscription may point at (pushsubs.ParseEndpoints; empty: the
	// major browsers').
	VAPIDPublicKey string `env:"VAPID_PUBLIC_KEY"`
	PushEndpoints  string `env:"PUSH_ENDPOINTS"`

	LogLevel slog.Level `env:"LOG_LEVEL" default:"INFO"`
}

// loadConfig reads Config from func's config map and checks it.
func loadConfig(m map[string]string) (Config, error) {
	var c Config
	if err := fn.Load(m, &c); err != nil {
		return c, fmt.Errorf("accounts: %w", err)
	}
	return c, c.check()
}

// check is what the tags cannot say.
func (c Config) check() error {
	if c.RefreshTokenTTL < c.AccessTokenTTL {
		return errors.New("accounts: config: REFRESH_TOKEN_TTL must not be shorter than ACCESS_TOKEN_TTL")
	}
	return nil
}

// LoginRate holds the login failure limits: "user=N/window,ip=N/window".
type LoginRate struct {
	User ratelimit.Rule
	IP   ratelimit.Rule
}

// UnmarshalText reads LOGIN_RATE (for fn.Load).
func (l *LoginRate) UnmarshalText(b []byte) (err error) {
	l.User, l.IP, err = decodeRules(string(b), "user", "ip")
	return err
}

// RegisterRate holds the per-address limits on creating things:
// "signup=N/window,device=N/window". A device is registered by a login
// without deviceId for a key the user does not have yet, and by each new
// agent.
type RegisterRate struct {
	Signup ratelimit.Rule
	Device ratelimit.Rule
}

// UnmarshalText reads REGISTER_RATE (for fn.Load).
func (l *RegisterRate) UnmarshalText(b []byte) (err error) {
	l.Signup, l.Device, err = decodeRules(string(b), "signup", "device")
	return err
}

// UserRegisterRate holds the per-account limits on creating things:
// "device=N/window,agent=N/window". Every device a user gets costs each of
// their conversations a wrapped key per message (a key directory entry,
// an envelope slot), so a stolen password must not mint them by the
// thousand; an agent is a new user with a device of its own.
type UserRegisterRate struct {
	Device ratelimit.Rule
	Agent  ratelimit.Rule
}

// UnmarshalText reads USER_REGISTER_RATE (for fn.Load).
func (l *UserRegisterRate) UnmarshalText(b []byte) (err error) {
	l.Device, l.Agent, err = decodeRules(string(b), "device", "agent")
	return err
}

// decodeRules reads "a=N/window,b=N/window" (the names a and b, in any
// order, both required).
func decodeRules(s, a, b string) (ra, rb ratelimit.Rule, err error) {
	for _, part := range strings.Split(s, ",") {
		name, rule, ok := strings.Cut(strings.TrimSpace(part), "=")
		r, perr := ratelimit.ParseRule(rule)
		if !ok || perr != nil {
			return ra, rb, fmt.Errorf("%q: want %s=N/window,%s=N/window", s, a, b)
		}
		switch name {
		case a:
			ra = r
		case b:
			rb = r
		default:
			return ra, rb, fmt.Errorf("unknown limit %q (want %s or %s)", name, a, b)
		}
	}
	if ra.Limit == 0 || rb.Limit == 0 {
		return ra, rb, fmt.Errorf("%q: both %s and %s limits are required", s, a, b)
	}
	return ra, rb, nil
}

// origins is a comma-separated list of browser origins; empty entries
// are dropped.
type origins []string

// UnmarshalText reads ALLOWED_ORIGINS (for fn.Load).
func (o *origins) UnmarshalText(b []byte) error {
	*o = nil
	for _, s := range strings.Split(string(b), ",") {
		if strings.TrimSpace(s) != "" {
			*o = append(*o, s)
		}
	}
	return nil
}
