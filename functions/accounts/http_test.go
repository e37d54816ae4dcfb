package function

import (
	"context"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"function/internal/ratelimit"
	"function/internal/token"
)

// TestBodies: every body rule answers with a problem naming what is wrong.
func TestBodies(t *testing.T) {
	t.Parallel()
	a := startAccounts(t, nil)
	for _, tc := range []struct {
		name   string
		body   string
		ctype  string
		status int
		detail string
	}{
		{"unknown field", `{"username":"x","password":"y","admin":true}`, "application/json", 400, `"admin"`},
		{"wrong type", `{"username":7,"password":"y"}`, "application/json", 400, "username"},
		{"malformed", `{"username":`, "application/json", 400, "malformed"},
		{"empty", ``, "application/json", 400, "empty"},
		{"two values", `{"username":"abc","password":"password1"} {}`, "application/json", 400, "nothing after"},
		{"oversized", `{"username":"` + strings.Repeat("a", 70<<10) + `"}`, "application/json", 413, "65536"},
		{"not JSON", `username=x`, "application/x-www-form-urlencoded", 415, "application/json"},
		{"no content type", `{}`, "", 415, "application/json"},
	} {
		req, _ := http.NewRequest("POST", a.srv.URL+"/v1/signup", strings.NewReader(tc.body))
		if tc.ctype != "" {
			req.Header.Set("Content-Type", tc.ctype)
		}
		p := a.send(req).problem(t, tc.status)
		if !strings.Contains(p.Detail, tc.detail) {
			t.Errorf("%s: detail %q, want it to mention %s", tc.name, p.Detail, tc.detail)
		}
	}
	// Oversized without a Content-Length (chunked) is cut off too.
	req, _ := http.NewRequest("POST", a.srv.URL+"/v1/signup", &endless{})
	req.Header.Set("Content-Type", "application/json")
	a.send(req).problem(t, http.StatusRequestEntityTooLarge)
}

// endless is a body that never ends: "{"username":"aaaa....
type endless struct{ started bool }

func (e *endless) Read(p []byte) (int, error) {
	n := 0
	if !e.started {
		n = copy(p, `{"username":"`)
		e.started = true
	}
	for ; n < len(p); n++ {
		p[n] = 'a'
	}
	return n, nil
}

func TestRoutesAndHeaders(t *testing.T) {
	t.Parallel()
	a := startAccounts(t, nil)
	a.call("GET", "/v1/nothing", "", nil).problem(t, http.StatusNotFound)
	r := a.call("GET", "/v1/signup", "", nil)
	r.problem(t, http.StatusMethodNotAllowed)
	if r.header.Get("Allow") == "" {
		t.Error("405 without Allow")
	}
	if r := a.call("GET", "/.well-known/jwks.json", "", nil); r.header.Get("X-Content-Type-Options") != "nosniff" {
		t.Error("no nosniff header")
	}
	s := a.user("quinn")
	if r := a.call("POST", "/v1/token/refresh", "", map[string]string{"refreshToken": s.RefreshToken}); r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("token answer Cache-Control %q, want no-store", r.header.Get("Cache-Control"))
	}
}

func TestCORS(t *testing.T) {
	t.Parallel()
	a := startAccounts(t, nil)
	preflight := func(origin string) response {
		req, _ := http.NewRequest("OPTIONS", a.srv.URL+"/v1/login", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "content-type")
		return a.send(req)
	}
	r := preflight("http://chat.example")
	if r.status != http.StatusNoContent || r.header.Get("Access-Control-Allow-Origin") != "http://chat.example" ||
		!strings.Contains(r.header.Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Errorf("allowed preflight: %d %v", r.status, r.header)
	}
	preflight("http://evil.example").problem(t, http.StatusForbidden)

	req, _ := http.NewRequest("POST", a.srv.URL+"/v1/signup", strings.NewReader(`{}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", "http://chat.example")
	if r := a.send(req); r.header.Get("Access-Control-Allow-Origin") != "http://chat.example" || !strings.Contains(r.header.Get("Access-Control-Expose-Headers"), "Retry-After") {
		t.Errorf("simple request from the allowed origin: %v", r.header)
	}
	req.Header.Set("Origin", "http://evil.example")
	req.Body = http.NoBody
	if r := a.send(req); r.header.Get("Access-Control-Allow-Origin") != "" {
		t.Error("a disallowed origin got Access-Control-Allow-Origin")
	}
}

// TestNotStarted: before Start finishes, the API answers 503 and Ready is false.
func TestNotStarted(t *testing.T) {
	f := New()
	srv := httptest.NewServer(http.HandlerFunc(f.Handle))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("before Start: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if ok, _ := f.Ready(context.Background()); ok {
		t.Error("Ready before Start")
	}
	if ok, _ := f.Alive(context.Background()); !ok {
		t.Error("not Alive")
	}
}

// TestStartFromConfig goes the way func does: Start with func's config
// map (the environment), Ready, Stop. ConfigMap keys that exist but are
// empty mean "default" (docs/accounts.md); a bad value stops Start with
// an error naming its variable.
func TestStartFromConfig(t *testing.T) {
	mongoURI, _ := testEnv(t)
	key, _ := token.GenerateKey()
	db := "acct_env_" + strings.ReplaceAll(time.Now().Format("150405.000000"), ".", "")
	m := map[string]string{
		"MONGODB_URI": mongoURI, "MONGODB_DATABASE": db, "REDIS_URL": "", "REDIS_PREFIX": "",
		"ACCOUNTS_SIGNING_KEYS": token.FormatKey(key), "ACCESS_TOKEN_TTL": "", "REFRESH_TOKEN_TTL": "",
		"LOGIN_RATE": "", "REGISTER_RATE": "", "USER_REGISTER_RATE": "", "ALLOWED_ORIGINS": " ,", "TRUSTED_PROXY_HOPS": "", "LOG_LEVEL": "",
	}
	c, err := loadConfig(m)
	if err != nil {
		t.Fatal(err)
	}
	if c.AccessTokenTTL != 15*time.Minute || c.RefreshTokenTTL != 720*time.Hour || c.RedisPrefix != "agentchat:" ||
		c.LoginRate != (LoginRate{User: ratelimit.Rule{Limit: 5, Window: 5 * time.Minute}, IP: ratelimit.Rule{Limit: 20, Window: time.Minute}}) ||
		c.RegisterRate != (RegisterRate{Signup: ratelimit.Rule{Limit: 20, Window: time.Hour}, Device: ratelimit.Rule{Limit: 60, Window: time.Hour}}) ||
		c.UserRegisterRate != (UserRegisterRate{Device: ratelimit.Rule{Limit: 20, Window: time.Hour}, Agent: ratelimit.Rule{Limit: 20, Window: time.Hour}}) ||
		len(c.AllowedOrigins) != 0 || c.TrustedProxyHops != 0 || c.LogLevel != slog.LevelInfo {
		t.Errorf("defaults = %+v", c)
	}
	f := New()
	if err := f.Start(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if svc := f.svc.Load(); svc != nil {
			svc.mongo.DB.Drop(context.Background())
		}
		f.Stop(context.Background())
	})
	eventually(t, 30*time.Second, func() bool { ok, _ := f.Ready(context.Background()); return ok })

	for _, bad := range []struct{ name, value, says string }{
		{"MONGODB_URI", "", "accounts: config: MONGODB_URI is required"},
		{"LOGIN_RATE", "user=5", "accounts: config: LOGIN_RATE"},
		{"REGISTER_RATE", "signup=5/1h", "accounts: config: REGISTER_RATE"},
		{"USER_REGISTER_RATE", "device=5/1h", "accounts: config: USER_REGISTER_RATE"},
		{"ACCESS_TOKEN_TTL", "30s", "accounts: config: ACCESS_TOKEN_TTL: want 1m to 24h"},
		{"ACCESS_TOKEN_TTL", "25h", "accounts: config: ACCESS_TOKEN_TTL: want 1m to 24h"},
		{"REFRESH_TOKEN_TTL", "10m", "accounts: config: REFRESH_TOKEN_TTL must not be shorter than ACCESS_TOKEN_TTL"},
		{"TRUSTED_PROXY_HOPS", "-1", "accounts: config: TRUSTED_PROXY_HOPS: want at least 0"},
	} {
		m := maps.Clone(m)
		m[bad.name] = bad.value
		if err := New().Start(context.Background(), m); err == nil || !strings.HasPrefix(err.Error(), bad.says) {
			t.Errorf("%s=%q: Start said %v, want %q", bad.name, bad.value, err, bad.says)
		}
	}
	m["ALLOWED_ORIGINS"] = "http://a.example,,http://b.example"
	if c, err := loadConfig(m); err != nil || !slices.Equal(c.AllowedOrigins, []string{"http://a.example", "http://b.example"}) {
		t.Errorf("ALLOWED_ORIGINS: %q (%v)", c.AllowedOrigins, err)
	}
}

func TestClientIP(t *testing.T) {
	for _, tc := range []struct {
		hops int
		xff  string
		want string
	}{
		{0, "1.1.1.1", "10.0.0.9"},
		{1, "", "10.0.0.9"},
		{1, "1.1.1.1", "1.1.1.1"},
		{1, "6.6.6.6, 1.1.1.1", "1.1.1.1"}, // a forged first entry is ignored
		{2, "6.6.6.6, 1.1.1.1, 10.0.0.2", "1.1.1.1"},
		{3, "1.1.1.1", "1.1.1.1"}, // fewer entries than hops: the leftmost
	} {
		r := httptest.NewRequest("POST", "/v1/login", nil)
		r.RemoteAddr = "10.0.0.9:4242"
		if tc.xff != "" {
			r.Header.Set("X-Forwarded-For", tc.xff)
		}
		if got := clientIP(r, tc.hops); got != tc.want {
			t.Errorf("clientIP(hops %d, XFF %q) = %s, want %s", tc.hops, tc.xff, got, tc.want)
		}
	}
}
