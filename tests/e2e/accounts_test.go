package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/agentchat/agentchat/sdk/e2ee"
)

// TestAccountsFunction drives accounts as it runs (a func process behind
// the platform's URL) over plain HTTP: sign-up, login, refresh with
// rotation, an expired token, a revoked device, a wrong password until the
// rate limit answers 429 — each failure an RFC 9457 problem, and nothing
// half-written (a refused sign-up leaves the name free).
func TestAccountsFunction(t *testing.T) {
	e := start(t, opts{functions: []string{"accounts"}})
	api := &accountsAPI{t: t, base: e.p.AccountsURL()}
	name := fmt.Sprintf("ann%d", time.Now().UnixNano()%1e9)
	key, _ := e2ee.GenerateKey()
	pub := base64.StdEncoding.EncodeToString(key.PublicKey().Bytes())

	t.Run("signup", func(t *testing.T) {
		api.expectProblem(api.do("POST", "/v1/signup", "", map[string]any{"username": name}), 400, "validation")
		api.expectProblem(api.do("POST", "/v1/signup", "", map[string]any{"username": name, "password": "pw", "admin": true}), 400, "validation")
		api.expect(api.do("POST", "/v1/signup", "", map[string]any{"username": name, "password": "correct horse battery"}), 201, nil)
		api.expectProblem(api.do("POST", "/v1/signup", "", map[string]any{"username": name, "password": "another password"}), 409, "conflict")
	})

	var sess struct {
		AccessToken, RefreshToken, DeviceID, UserID string
	}
	t.Run("login and refresh", func(t *testing.T) {
		api.expect(api.do("POST", "/v1/login", "", map[string]any{"username": name, "password": "correct horse battery",
			"publicKey": pub, "deviceName": "phone"}), 200, &sess)
		if sess.AccessToken == "" || sess.RefreshToken == "" || sess.DeviceID == "" {
			t.Fatalf("session %+v", sess)
		}
		api.expect(api.do("GET", "/v1/devices", sess.AccessToken, nil), 200, nil)
		old := sess.RefreshToken
		api.expect(api.do("POST", "/v1/token/refresh", "", map[string]any{"refreshToken": old}), 200, &sess)
		if sess.RefreshToken == old {
			t.Error("refresh did not rotate the refresh token")
		}
		// A refresh token used twice is a stolen one: refused.
		api.expectProblem(api.do("POST", "/v1/token/refresh", "", map[string]any{"refreshToken": old}), 401, "unauthorized")
	})

	t.Run("expired token", func(t *testing.T) {
		kid, signKey := e.p.SigningKey()
		expired := mintToken(t, signKey, kid, sess.UserID, sess.DeviceID, time.Now().Add(-time.Minute), "agentchat")
		resp := api.do("GET", "/v1/devices", expired, nil)
		if h := resp.Header.Get("WWW-Authenticate"); !strings.Contains(h, "invalid_token") {
			t.Errorf("WWW-Authenticate %q, want invalid_token", h)
		}
		api.expectProblem(resp, 401, "unauthorized")
	})

	t.Run("revoked device", func(t *testing.T) {
		laptopKey, _ := e2ee.GenerateKey()
		var laptop struct{ AccessToken, RefreshToken, DeviceID string }
		api.expect(api.do("POST", "/v1/login", "", map[string]any{"username": name, "password": "correct horse battery",
			"publicKey": base64.StdEncoding.EncodeToString(laptopKey.PublicKey().Bytes()), "deviceName": "laptop"}), 200, &laptop)
		api.expect(api.do("DELETE", "/v1/devices/"+laptop.DeviceID, sess.AccessToken, nil), 204, nil)
		api.expectProblem(api.do("GET", "/v1/devices", laptop.AccessToken, nil), 401, "unauthorized")
		api.expectProblem(api.do("POST", "/v1/token/refresh", "", map[string]any{"refreshToken": laptop.RefreshToken}), 401, "unauthorized")
		var keys struct{ Devices []struct{ DeviceID string } }
		api.expect(api.do("GET", "/v1/users/"+sess.UserID+"/devices", sess.AccessToken, nil), 200, &keys)
		if len(keys.Devices) != 1 || keys.Devices[0].DeviceID != sess.DeviceID {
			t.Errorf("key directory %+v, want the phone only", keys.Devices)
		}
	})

	t.Run("wrong password until rate limited", func(t *testing.T) {
		victim := name + "v"
		api.expect(api.do("POST", "/v1/signup", "", map[string]any{"username": victim, "password": "correct horse battery"}), 201, nil)
		limited := 0
		for i := range 8 {
			resp := api.do("POST", "/v1/login", "", map[string]any{"username": victim, "password": "wrong password", "publicKey": pub})
			if resp.StatusCode == http.StatusTooManyRequests {
				if resp.Header.Get("Retry-After") == "" {
					t.Error("429 without Retry-After")
				}
				api.expectProblem(resp, 429, "rate-limited")
				limited = i + 1
				break
			}
			api.expectProblem(resp, 401, "unauthorized")
		}
		if limited == 0 {
			t.Fatal("8 wrong passwords in a row were never rate limited")
		}
		// Now even the right password waits: the limit is per user.
		api.expectProblem(api.do("POST", "/v1/login", "", map[string]any{"username": victim, "password": "correct horse battery", "publicKey": pub}), 429, "rate-limited")
		t.Logf("rate limited at attempt %d", limited)
	})
}

// accountsAPI calls accounts over HTTP.
type accountsAPI struct {
	t    *testing.T
	base string
}

func (a *accountsAPI) do(method, path, token string, body any) *http.Response {
	a.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	a.t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, rd)
	if err != nil {
		a.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	return resp
}

// expect checks the status and decodes the body into out (if not nil).
func (a *accountsAPI) expect(resp *http.Response, status int, out any) {
	a.t.Helper()
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != status {
		a.t.Fatalf("%s %s: %d %s, want %d", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, raw, status)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			a.t.Fatalf("%s: %v", resp.Request.URL.Path, err)
		}
	}
}

// expectProblem checks an RFC 9457 problem response of the given type.
func (a *accountsAPI) expectProblem(resp *http.Response, status int, typ string) {
	a.t.Helper()
	var p struct {
		Type   string `json:"type"`
		Title  string `json:"title"`
		Status int    `json:"status"`
		Detail string `json:"detail"`
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
		a.t.Errorf("%s %s: content type %q, want application/problem+json", resp.Request.Method, resp.Request.URL.Path, ct)
	}
	a.expect(resp, status, &p)
	if p.Type != "urn:agentchat:problem:"+typ || p.Status != status || p.Title == "" {
		a.t.Errorf("%s %s: problem %+v, want type %s, status %d", resp.Request.Method, resp.Request.URL.Path, p, typ, status)
	}
}
