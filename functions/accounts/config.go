package function

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/kelseyhightower/envconfig"

	"function/internal/ratelimit"
)

// Config is accounts' configuration, read from the environment once at
// Start (func passes the same environment in Start's map).
type Config struct {
	MongoURI      string `envconfig:"MONGODB_URI"`
	MongoDatabase string `envconfig:"MONGODB_DATABASE" default:"agentchat"`

	// RedisURL backs the login rate limits shared by every replica; empty
	// means a per-process limiter (logged as a warning).
	RedisURL    string `envconfig:"REDIS_URL"`
	RedisPrefix string `envconfig:"REDIS_PREFIX" default:"agentchat:"`

	// Sink is the broker (K_SINK), where accounts announces the directory
	// changes it commits (io.agentchat.conversation.changed,
	// io.agentchat.device.changed); empty: no announcements (logged).
	Sink string `envconfig:"K_SINK"`

	// SigningKeys is "kid:base64seed[,...]": the first signs, all verify
	// and are published. Empty: an ephemeral key (development only).
	SigningKeys     string   `envconfig:"ACCOUNTS_SIGNING_KEYS"`
	AccessTokenTTL  Duration `envconfig:"ACCESS_TOKEN_TTL" default:"15m"`
	RefreshTokenTTL Duration `envconfig:"REFRESH_TOKEN_TTL" default:"720h"`

	LoginRate LoginRate `envconfig:"LOGIN_RATE"`
	// RegisterRate limits sign-ups and new devices per client address.
	RegisterRate RegisterRate `envconfig:"REGISTER_RATE"`

	// AllowedOrigins may call the API from a browser (the connector's
	// origin, which serves the web client); "*" allows any origin.
	AllowedOrigins []string `envconfig:"ALLOWED_ORIGINS"`
	// TrustedProxyHops is how many proxies in front of accounts append to
	// X-Forwarded-For; 0 uses the peer address. See clientIP.
	TrustedProxyHops int `envconfig:"TRUSTED_PROXY_HOPS" default:"0"`

	LogLevel LogLevel `envconfig:"LOG_LEVEL"`
}

// On a cluster a ConfigMap key that is present but empty arrives as an
// empty variable, which envconfig would hand to the parser; the types below
// read "" as "use the default" (filled in by LoadConfig).

// Duration is a time.Duration for which "" means the default.
type Duration time.Duration

// Decode implements envconfig.Decoder.
func (d *Duration) Decode(s string) error {
	if s == "" {
		*d = 0
		return nil
	}
	v, err := time.ParseDuration(s)
	*d = Duration(v)
	return err
}

// LogLevel is a slog.Level for which "" means INFO.
type LogLevel slog.Level

// Decode implements envconfig.Decoder.
func (l *LogLevel) Decode(s string) error {
	return (*slog.Level)(l).UnmarshalText([]byte(cmp.Or(s, "INFO")))
}

// Defaults for values that may arrive empty.
const (
	defaultAccessTTL    = 15 * time.Minute
	defaultRefreshTTL   = 720 * time.Hour
	defaultLoginRate    = "user=5/5m,ip=20/1m"
	defaultRegisterRate = "signup=20/1h,device=60/1h"
)

// LoginRate holds the login failure limits: "user=N/window,ip=N/window".
type LoginRate struct {
	User ratelimit.Rule
	IP   ratelimit.Rule
}

// Decode implements envconfig.Decoder.
func (l *LoginRate) Decode(s string) error {
	if s == "" {
		s = defaultLoginRate
	}
	var err error
	l.User, l.IP, err = decodeRules("LOGIN_RATE", s, "user", "ip")
	return err
}

// decodeRules reads "a=N/window,b=N/window" (the names a and b, in any
// order, both required) from the variable env.
func decodeRules(env, s, a, b string) (ra, rb ratelimit.Rule, err error) {
	for _, part := range strings.Split(s, ",") {
		name, rule, ok := strings.Cut(strings.TrimSpace(part), "=")
		r, perr := ratelimit.ParseRule(rule)
		if !ok || perr != nil {
			return ra, rb, fmt.Errorf("%s %q: want %s=N/window,%s=N/window", env, s, a, b)
		}
		switch name {
		case a:
			ra = r
		case b:
			rb = r
		default:
			return ra, rb, fmt.Errorf("%s: unknown limit %q (want %s or %s)", env, name, a, b)
		}
	}
	if ra.Limit == 0 || rb.Limit == 0 {
		return ra, rb, fmt.Errorf("%s %q: both %s and %s limits are required", env, s, a, b)
	}
	return ra, rb, nil
}

// RegisterRate holds the per-address limits on creating things:
// "signup=N/window,device=N/window". A device is registered by a login
// without deviceId for a key the user does not have yet, and by each new
// agent.
type RegisterRate struct {
	Signup ratelimit.Rule
	Device ratelimit.Rule
}

// Decode implements envconfig.Decoder.
func (l *RegisterRate) Decode(s string) error {
	if s == "" {
		s = defaultRegisterRate
	}
	var err error
	l.Signup, l.Device, err = decodeRules("REGISTER_RATE", s, "signup", "device")
	return err
}

// LoadConfig reads Config from the environment and checks it.
func LoadConfig() (Config, error) {
	var c Config
	if err := envconfig.Process("", &c); err != nil {
		return c, fmt.Errorf("accounts: config: %w", err)
	}
	c.fill()
	return c, c.check()
}

// fill replaces unset values with their defaults.
func (c *Config) fill() {
	c.MongoDatabase = cmp.Or(c.MongoDatabase, "agentchat")
	c.RedisPrefix = cmp.Or(c.RedisPrefix, "agentchat:")
	c.AccessTokenTTL = cmp.Or(c.AccessTokenTTL, Duration(defaultAccessTTL))
	c.RefreshTokenTTL = cmp.Or(c.RefreshTokenTTL, Duration(defaultRefreshTTL))
	if c.LoginRate.User.Limit == 0 {
		c.LoginRate.Decode(defaultLoginRate)
	}
	if c.RegisterRate.Signup.Limit == 0 {
		c.RegisterRate.Decode(defaultRegisterRate)
	}
	c.AllowedOrigins = slices.DeleteFunc(c.AllowedOrigins, func(o string) bool { return strings.TrimSpace(o) == "" })
}

func (c Config) check() error {
	switch {
	case c.MongoURI == "":
		return errors.New("accounts: config: MONGODB_URI is required")
	case c.AccessTokenTTL < Duration(time.Minute) || c.AccessTokenTTL > Duration(24*time.Hour):
		return errors.New("accounts: config: ACCESS_TOKEN_TTL must be between 1m and 24h")
	case c.RefreshTokenTTL < c.AccessTokenTTL:
		return errors.New("accounts: config: REFRESH_TOKEN_TTL must not be shorter than ACCESS_TOKEN_TTL")
	case c.TrustedProxyHops < 0:
		return errors.New("accounts: config: TRUSTED_PROXY_HOPS must be >= 0")
	}
	return nil
}
