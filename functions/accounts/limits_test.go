package function

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"

	"function/internal/ratelimit"
)

// TestRegistrationLimits: sign-ups and new devices (a login for a new key,
// a new agent) are limited per client address; what exists already (a
// login reusing its device) is not counted, and another address is not
// held back.
func TestRegistrationLimits(t *testing.T) {
	t.Parallel()
	a := startAccounts(t, func(c *Config) {
		c.RegisterRate = RegisterRate{Signup: ratelimit.Rule{Limit: 2, Window: time.Hour}, Device: ratelimit.Rule{Limit: 3, Window: time.Hour}}
		c.TrustedProxyHops = 1 // the address is the last X-Forwarded-For entry
	})
	from := func(addr, path, token string, body any) response {
		t.Helper()
		raw, _ := json.Marshal(body)
		req, err := http.NewRequest("POST", a.srv.URL+path, bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Forwarded-For", addr)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		return a.send(req)
	}
	limited := func(r response, what string) {
		t.Helper()
		p := r.problem(t, http.StatusTooManyRequests)
		if p.Type != "urn:agentchat:problem:rate-limited" {
			t.Errorf("%s: problem type %q", what, p.Type)
		}
		if s, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || s < 1 || s > 3600 {
			t.Errorf("%s: Retry-After %q, want 1–3600 s", what, r.header.Get("Retry-After"))
		}
	}
	const A, B = "198.51.100.1", "198.51.100.2"
	signup := func(addr, name string) response {
		return from(addr, "/v1/signup", "", map[string]string{"username": name, "password": "password-" + name})
	}

	t.Run("sign-ups", func(t *testing.T) {
		a.must(signup(A, "sam"), http.StatusCreated, nil)
		signup(A, "sam").problem(t, http.StatusConflict) // a taken name counts too
		limited(signup(A, "sue"), "third sign-up from A")
		a.must(signup(B, "sue"), http.StatusCreated, nil)
	})

	t.Run("devices", func(t *testing.T) {
		login := func(addr, user, key string) response {
			return from(addr, "/v1/login", "", map[string]string{"username": user, "password": "password-" + user, "publicKey": key})
		}
		keys := []string{newKey(t), newKey(t), newKey(t), newKey(t)}
		var s sessionResponse
		for i := range 3 {
			a.must(login(A, "sam", keys[i]), http.StatusOK, &s)
		}
		a.must(login(A, "sam", keys[0]), http.StatusOK, nil) // its own device again: not new
		limited(login(A, "sam", keys[3]), "fourth new device from A")
		limited(from(A, "/v1/agents", s.AccessToken, map[string]string{"name": "Bot", "agentKind": "model", "publicKey": newKey(t)}), "an agent from A")
		a.must(login(B, "sam", keys[3]), http.StatusOK, nil)
		a.must(from(B, "/v1/agents", s.AccessToken, map[string]string{"name": "Bot", "agentKind": "model", "publicKey": newKey(t)}), http.StatusCreated, nil)

		var devs struct{ Devices []deviceView }
		a.must(a.call("GET", "/v1/devices", s.AccessToken, nil), http.StatusOK, &devs)
		if len(devs.Devices) != 4 {
			t.Errorf("%d devices, want 4 (3 from A, 1 from B)", len(devs.Devices))
		}
	})
}

func TestRegisterRateConfig(t *testing.T) {
	var r RegisterRate
	if err := r.UnmarshalText([]byte("device=6/1m, signup=2/1h")); err != nil || r.Signup != (ratelimit.Rule{Limit: 2, Window: time.Hour}) || r.Device != (ratelimit.Rule{Limit: 6, Window: time.Minute}) {
		t.Errorf("parsed = %+v, %v", r, err)
	}
	for _, bad := range []string{"", "signup=5/1h", "signup=5/1h,device=x", "signup=5/1h,device=5/1h,other=1/1h", "signup=0/1h,device=5/1h"} {
		if err := new(RegisterRate).UnmarshalText([]byte(bad)); err == nil {
			t.Errorf("REGISTER_RATE=%q accepted", bad)
		}
	}
}
