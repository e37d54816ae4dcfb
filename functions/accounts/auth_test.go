package function

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"function/internal/token"
)

func TestSignup(t *testing.T) {
	t.Parallel()
	a := startAccounts(t, nil)
	id := a.signup("alice")
	if !validID(id) {
		t.Errorf("userId %q is not a valid id", id)
	}
	p := a.call("POST", "/v1/signup", "", map[string]string{"username": "Alice", "password": "another-password"}).problem(t, http.StatusConflict)
	if !strings.Contains(p.Detail, "alice") {
		t.Errorf("409 detail %q does not name the username", p.Detail)
	}
	for _, tc := range []struct {
		body  map[string]string
		field string
	}{
		{map[string]string{"username": "al", "password": "long-enough"}, "username"},
		{map[string]string{"username": "bad name!", "password": "long-enough"}, "username"},
		{map[string]string{"username": "bob", "password": "short"}, "password"},
		{map[string]string{"username": "bob", "password": "long-enough", "displayName": strings.Repeat("x", 65)}, "displayName"},
	} {
		p := a.call("POST", "/v1/signup", "", tc.body).problem(t, http.StatusBadRequest)
		if !strings.HasPrefix(p.Detail, tc.field+":") {
			t.Errorf("signup %v: detail %q, want it to name %s", tc.body, p.Detail, tc.field)
		}
	}
}

// TestLoginTokenVerifiesWithJWKS logs in on a new device and checks the
// access token against the published JWKS, the way the connector does.
func TestLoginTokenVerifiesWithJWKS(t *testing.T) {
	t.Parallel()
	a := startAccounts(t, nil)
	userID := a.signup("carol")
	s := a.login("carol")
	if s.UserID != userID || !validID(s.DeviceID) || s.RefreshToken == "" || s.ExpiresIn != 900 {
		t.Fatalf("login = %+v", s)
	}
	var set token.JWKS
	r := a.call("GET", "/.well-known/jwks.json", "", nil)
	a.must(r, http.StatusOK, &set)
	if cc := r.header.Get("Cache-Control"); !strings.Contains(cc, "max-age") {
		t.Errorf("JWKS Cache-Control %q, want a max-age", cc)
	}
	pubs, err := set.PublicKeys()
	if err != nil || set.Keys[0].Kty != "OKP" || set.Keys[0].Crv != "Ed25519" {
		t.Fatalf("JWKS %+v: %v", set, err)
	}
	var c token.Claims
	tok, err := jwt.ParseWithClaims(s.AccessToken, &c, func(tk *jwt.Token) (any, error) {
		return pubs[tk.Header["kid"].(string)], nil
	}, jwt.WithValidMethods([]string{"EdDSA"}), jwt.WithAudience("agentchat"), jwt.WithIssuer("agentchat-accounts"), jwt.WithExpirationRequired())
	if err != nil {
		t.Fatalf("token does not verify with the JWKS: %v", err)
	}
	if tok.Header["kid"] != a.key.ID {
		t.Errorf("kid %v, want %s", tok.Header["kid"], a.key.ID)
	}
	if c.Subject != userID || c.Device != s.DeviceID {
		t.Errorf("sub/did = %s/%s, want %s/%s", c.Subject, c.Device, userID, s.DeviceID)
	}
	if ttl := c.ExpiresAt.Sub(c.IssuedAt.Time); ttl != 15*time.Minute {
		t.Errorf("exp - iat = %v, want 15m", ttl)
	}

	// The token works on an authenticated route and names its device.
	var mine struct{ Devices []deviceView }
	a.must(a.call("GET", "/v1/devices", s.AccessToken, nil), http.StatusOK, &mine)
	if len(mine.Devices) != 1 || mine.Devices[0].DeviceID != s.DeviceID || !mine.Devices[0].Current {
		t.Errorf("devices = %+v", mine.Devices)
	}
}

func TestLoginDevices(t *testing.T) {
	t.Parallel()
	a := startAccounts(t, nil)
	a.signup("dave")
	key := newKey(t)
	login := func(body map[string]string) response {
		body["username"], body["password"] = "dave", "password-dave"
		return a.call("POST", "/v1/login", "", body)
	}
	var first, again, byID sessionResponse
	a.must(login(map[string]string{"publicKey": key}), http.StatusOK, &first)
	a.must(login(map[string]string{"publicKey": key}), http.StatusOK, &again)
	a.must(login(map[string]string{"deviceId": first.DeviceID}), http.StatusOK, &byID)
	if again.DeviceID != first.DeviceID || byID.DeviceID != first.DeviceID {
		t.Errorf("devices %s, %s, %s: a retried login or a login by id must reuse the device", first.DeviceID, again.DeviceID, byID.DeviceID)
	}
	if p := login(map[string]string{}).problem(t, http.StatusBadRequest); !strings.HasPrefix(p.Detail, "publicKey:") {
		t.Errorf("login without device: %q", p.Detail)
	}
	login(map[string]string{"publicKey": "AAAA"}).problem(t, http.StatusBadRequest)
	login(map[string]string{"deviceId": "dv-nope"}).problem(t, http.StatusNotFound)
	login(map[string]string{"deviceId": first.DeviceID, "publicKey": newKey(t)}).problem(t, http.StatusBadRequest)
	a.call("POST", "/v1/login", "", map[string]string{"username": "dave", "password": "wrong-password", "publicKey": key}).problem(t, http.StatusUnauthorized)
	a.call("POST", "/v1/login", "", map[string]string{"username": "nobody", "password": "password-dave", "publicKey": key}).problem(t, http.StatusUnauthorized)
}

// TestRefreshRotates: each refresh token works once; replaying a used one
// revokes every refresh token of the device.
func TestRefreshRotates(t *testing.T) {
	t.Parallel()
	a := startAccounts(t, nil)
	s := a.user("erin")
	refresh := func(rt string) response {
		return a.call("POST", "/v1/token/refresh", "", map[string]string{"refreshToken": rt})
	}
	var next sessionResponse
	a.must(refresh(s.RefreshToken), http.StatusOK, &next)
	if next.RefreshToken == s.RefreshToken || next.DeviceID != s.DeviceID || next.UserID != s.UserID || next.AccessToken == "" {
		t.Fatalf("refresh = %+v", next)
	}
	var third sessionResponse
	a.must(refresh(next.RefreshToken), http.StatusOK, &third)

	refresh(s.RefreshToken).problem(t, http.StatusUnauthorized) // reuse: theft detection
	refresh(third.RefreshToken).problem(t, http.StatusUnauthorized)
	refresh("not-a-token").problem(t, http.StatusUnauthorized)
	refresh("").problem(t, http.StatusBadRequest)

	// The device may log in again and gets a working refresh token.
	var again sessionResponse
	a.must(a.call("POST", "/v1/login", "", map[string]string{"username": "erin", "password": "password-erin", "deviceId": s.DeviceID}), http.StatusOK, &again)
	a.must(refresh(again.RefreshToken), http.StatusOK, nil)
}

// TestConcurrentRefresh: of many exchanges of one token at once, at most one
// succeeds.
func TestConcurrentRefresh(t *testing.T) {
	t.Parallel()
	a := startAccounts(t, nil)
	s := a.user("fran")
	codes := make(chan int, 8)
	for range 8 {
		go func() {
			codes <- a.call("POST", "/v1/token/refresh", "", map[string]string{"refreshToken": s.RefreshToken}).status
		}()
	}
	ok := 0
	for range 8 {
		if <-codes == http.StatusOK {
			ok++
		}
	}
	if ok > 1 {
		t.Errorf("%d concurrent refreshes of one token succeeded, want at most 1", ok)
	}
}

func TestAuthMiddleware(t *testing.T) {
	t.Parallel()
	a := startAccounts(t, nil)
	s := a.user("gina")
	sign := func(k token.Key, claims token.Claims) string {
		tk := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
		tk.Header["kid"] = k.ID
		raw, err := tk.SignedString(k.Private)
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	claims := func(exp time.Time) token.Claims {
		return token.Claims{Device: s.DeviceID, RegisteredClaims: jwt.RegisteredClaims{
			Issuer: token.Issuer, Subject: s.UserID, Audience: jwt.ClaimStrings{token.Audience},
			IssuedAt: jwt.NewNumericDate(exp.Add(-15 * time.Minute)), ExpiresAt: jwt.NewNumericDate(exp),
		}}
	}
	other, _ := token.GenerateKey()
	other.ID = a.key.ID
	for name, raw := range map[string]string{
		"expired":      sign(a.key, claims(time.Now().Add(-time.Minute))),
		"other key":    sign(other, claims(time.Now().Add(time.Minute))),
		"garbage":      "x.y.z",
		"no token":     "",
		"another user": sign(a.key, token.Claims{Device: s.DeviceID, RegisteredClaims: jwt.RegisteredClaims{Issuer: token.Issuer, Subject: "u-someone", Audience: jwt.ClaimStrings{token.Audience}, ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Minute))}}),
	} {
		r := a.call("GET", "/v1/devices", raw, nil)
		r.problem(t, http.StatusUnauthorized)
		if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("%s: WWW-Authenticate %q", name, r.header.Get("WWW-Authenticate"))
		}
	}
	a.must(a.call("GET", "/v1/devices", sign(a.key, claims(time.Now().Add(time.Minute))), nil), http.StatusOK, nil)
}

// TestRevokedDevice: a revoked device loses its refresh tokens and its
// access token stops working at once; the other device is unaffected.
func TestRevokedDevice(t *testing.T) {
	t.Parallel()
	a := startAccounts(t, nil)
	phone := a.user("hank")
	laptop := a.login("hank")
	a.must(a.call("DELETE", "/v1/devices/"+laptop.DeviceID, phone.AccessToken, nil), http.StatusNoContent, nil)
	a.must(a.call("DELETE", "/v1/devices/"+laptop.DeviceID, phone.AccessToken, nil), http.StatusNoContent, nil) // idempotent

	a.call("GET", "/v1/devices", laptop.AccessToken, nil).problem(t, http.StatusUnauthorized)
	a.call("POST", "/v1/token/refresh", "", map[string]string{"refreshToken": laptop.RefreshToken}).problem(t, http.StatusUnauthorized)
	a.call("POST", "/v1/login", "", map[string]string{"username": "hank", "password": "password-hank", "deviceId": laptop.DeviceID}).problem(t, http.StatusForbidden)

	var mine struct{ Devices []deviceView }
	a.must(a.call("GET", "/v1/devices", phone.AccessToken, nil), http.StatusOK, &mine)
	if len(mine.Devices) != 1 || mine.Devices[0].DeviceID != phone.DeviceID {
		t.Errorf("devices after revoking the laptop = %+v, want the phone only", mine.Devices)
	}
	var keys struct{ Devices []keyView }
	a.must(a.call("GET", "/v1/users/"+phone.UserID+"/devices", phone.AccessToken, nil), http.StatusOK, &keys)
	if len(keys.Devices) != 1 || keys.Devices[0].DeviceID != phone.DeviceID {
		t.Errorf("key directory = %+v, want the phone only", keys.Devices)
	}
	a.must(a.call("POST", "/v1/token/refresh", "", map[string]string{"refreshToken": phone.RefreshToken}), http.StatusOK, nil)

	// Someone else's device, or no device: 404.
	ivy := a.user("ivy")
	a.call("DELETE", "/v1/devices/"+phone.DeviceID, ivy.AccessToken, nil).problem(t, http.StatusNotFound)
	a.call("DELETE", "/v1/devices/dv-unknown", ivy.AccessToken, nil).problem(t, http.StatusNotFound)
}

func TestLoginRateLimit(t *testing.T) {
	t.Parallel()
	a := startAccounts(t, func(c *Config) { c.LoginRate.UnmarshalText([]byte("user=3/5m,ip=6/1m")) })
	a.signup("jack")
	wrong := map[string]string{"username": "jack", "password": "wrong-password", "publicKey": newKey(t)}
	for range 3 {
		a.call("POST", "/v1/login", "", wrong).problem(t, http.StatusUnauthorized)
	}
	r := a.call("POST", "/v1/login", "", wrong)
	r.problem(t, http.StatusTooManyRequests)
	if sec, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || sec < 1 || sec > 300 {
		t.Errorf("Retry-After %q, want 1..300 seconds", r.header.Get("Retry-After"))
	}
	// The right password does not help while the username is limited.
	right := map[string]string{"username": "jack", "password": "password-jack", "publicKey": newKey(t)}
	a.call("POST", "/v1/login", "", right).problem(t, http.StatusTooManyRequests)

	// Per address: 6 attempts a minute whatever the usernames (5 used above).
	a.call("POST", "/v1/login", "", map[string]string{"username": "other", "password": "wrong-password", "publicKey": newKey(t)}).problem(t, http.StatusUnauthorized)
	a.call("POST", "/v1/login", "", map[string]string{"username": "third", "password": "wrong-password", "publicKey": newKey(t)}).problem(t, http.StatusTooManyRequests)
}

// TestKeyRotation follows docs/accounts.md: a new key is added second
// (published, not signing), then moved first; tokens signed by either
// verify while both are configured.
func TestKeyRotation(t *testing.T) {
	t.Parallel()
	oldKey, _ := token.GenerateKey()
	newK, _ := token.GenerateKey()
	a := startAccounts(t, func(c *Config) { c.SigningKeys = token.FormatKey(oldKey) })
	s := a.user("kate")

	// Restart on the same database with the new key first, the old second.
	c := a.cfg
	c.SigningKeys = token.FormatKey(newK) + "," + token.FormatKey(oldKey)
	if err := a.f.start(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	var set token.JWKS
	a.must(a.call("GET", "/.well-known/jwks.json", "", nil), http.StatusOK, &set)
	if len(set.Keys) != 2 || set.Keys[0].Kid != newK.ID || set.Keys[1].Kid != oldKey.ID {
		t.Fatalf("JWKS kids = %+v, want %s then %s", set.Keys, newK.ID, oldKey.ID)
	}
	a.must(a.call("GET", "/v1/devices", s.AccessToken, nil), http.StatusOK, nil) // old key's token
	var fresh sessionResponse
	a.must(a.call("POST", "/v1/token/refresh", "", map[string]string{"refreshToken": s.RefreshToken}), http.StatusOK, &fresh)
	tk, _, err := jwt.NewParser().ParseUnverified(fresh.AccessToken, &token.Claims{})
	if err != nil || tk.Header["kid"] != newK.ID {
		t.Fatalf("new token kid %v (%v), want %s", tk.Header["kid"], err, newK.ID)
	}
	a.must(a.call("GET", "/v1/devices", fresh.AccessToken, nil), http.StatusOK, nil)
}
