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
	from := a.postFrom
	const A, B = "198.51.100.1", "198.51.100.2"
	signup := func(addr, name string) response {
		return from(addr, "/v1/signup", "", map[string]string{"username": name, "password": "password-" + name})
	}

	t.Run("sign-ups", func(t *testing.T) {
		a.must(signup(A, "sam"), http.StatusCreated, nil)
		signup(A, "sam").problem(t, http.StatusConflict) // a taken name counts too
		limited(t, signup(A, "sue"), codeSignupsPerAddress, "third sign-up from A")
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
		limited(t, login(A, "sam", keys[3]), codeDevicesPerAddress, "fourth new device from A")
		limited(t, from(A, "/v1/agents", s.AccessToken, map[string]string{"name": "Bot", "agentKind": "model", "publicKey": newKey(t)}),
			codeDevicesPerAddress, "an agent from A")
		a.must(login(B, "sam", keys[3]), http.StatusOK, nil)
		a.must(from(B, "/v1/agents", s.AccessToken, map[string]string{"name": "Bot", "agentKind": "model", "publicKey": newKey(t)}), http.StatusCreated, nil)

		var devs struct{ Devices []deviceView }
		a.must(a.call("GET", "/v1/devices", s.AccessToken, nil), http.StatusOK, &devs)
		if len(devs.Devices) != 4 {
			t.Errorf("%d devices, want 4 (3 from A, 1 from B)", len(devs.Devices))
		}
	})
}

// postFrom posts body to path as if from the client address addr (the
// last X-Forwarded-For entry: set TrustedProxyHops to 1).
func (a *accounts) postFrom(addr, path, token string, body any) response {
	a.t.Helper()
	raw, _ := json.Marshal(body)
	req, err := http.NewRequest("POST", a.srv.URL+path, bytes.NewReader(raw))
	if err != nil {
		a.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Forwarded-For", addr)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return a.send(req)
}

// limited checks a 429 of a registration limit: its type, its code (which
// limit) and a Retry-After within the window (an hour).
func limited(t *testing.T, r response, code, what string) {
	t.Helper()
	p := r.problem(t, http.StatusTooManyRequests)
	if p.Type != "urn:agentchat:problem:rate-limited" || p.Code != code {
		t.Errorf("%s: problem type %q code %q, want rate-limited %q", what, p.Type, p.Code, code)
	}
	if s, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || s < 1 || s > 3600 {
		t.Errorf("%s: Retry-After %q, want 1–3600 s", what, r.header.Get("Retry-After"))
	}
}

// TestUserRegistrationLimits: an account's new devices and the agents it
// registers are limited per account, whatever address each comes from;
// what exists already (a login on its device, an agent registered again)
// is not counted, and another account is not held back.
func TestUserRegistrationLimits(t *testing.T) {
	t.Parallel()
	a := startAccounts(t, func(c *Config) {
		c.UserRegisterRate = UserRegisterRate{Device: ratelimit.Rule{Limit: 2, Window: time.Hour}, Agent: ratelimit.Rule{Limit: 1, Window: time.Hour}}
		c.TrustedProxyHops = 1
	})
	const A, B, C = "198.51.100.1", "198.51.100.2", "198.51.100.3"
	for _, name := range []string{"amy", "ben"} {
		a.must(a.postFrom(A, "/v1/signup", "", map[string]string{"username": name, "password": "password-" + name}), http.StatusCreated, nil)
	}
	login := func(addr, user, key string) response {
		return a.postFrom(addr, "/v1/login", "", map[string]string{"username": user, "password": "password-" + user, "publicKey": key})
	}
	keys := []string{newKey(t), newKey(t), newKey(t)}
	var amy, ben sessionResponse
	a.must(login(A, "amy", keys[0]), http.StatusOK, &amy)
	a.must(login(B, "amy", keys[1]), http.StatusOK, nil)
	limited(t, login(C, "amy", keys[2]), codeDevicesPerUser, "amy's third new device, from a third address")
	a.must(login(C, "amy", keys[0]), http.StatusOK, nil) // her first device again: not new
	a.must(login(C, "ben", newKey(t)), http.StatusOK, &ben)

	agent := func(addr string, s sessionResponse, id, key string) response {
		return a.postFrom(addr, "/v1/agents", s.AccessToken, map[string]string{"name": "Bot", "agentKind": "model", "publicKey": key, "agentId": id})
	}
	botKey := newKey(t)
	a.must(agent(A, amy, "amy-bot", botKey), http.StatusCreated, nil)
	a.must(agent(B, amy, "amy-bot", botKey), http.StatusOK, nil) // the same agent again: not new
	limited(t, agent(B, amy, "amy-bot-2", newKey(t)), codeAgentsPerUser, "amy's second agent, from another address")
	a.must(agent(B, ben, "ben-bot", newKey(t)), http.StatusCreated, nil)

	var devs struct{ Devices []deviceView }
	a.must(a.call("GET", "/v1/devices", amy.AccessToken, nil), http.StatusOK, &devs)
	if len(devs.Devices) != 2 {
		t.Errorf("amy has %d devices, want 2 (the third was refused)", len(devs.Devices))
	}
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
	var u UserRegisterRate
	if err := u.UnmarshalText([]byte("agent=3/24h,device=10/1h")); err != nil || u.Device != (ratelimit.Rule{Limit: 10, Window: time.Hour}) || u.Agent != (ratelimit.Rule{Limit: 3, Window: 24 * time.Hour}) {
		t.Errorf("parsed = %+v, %v", u, err)
	}
	for _, bad := range []string{"", "device=5/1h", "device=5/1h,agent=1/1h,signup=1/1h"} {
		if err := new(UserRegisterRate).UnmarshalText([]byte(bad)); err == nil {
			t.Errorf("USER_REGISTER_RATE=%q accepted", bad)
		}
	}
}
