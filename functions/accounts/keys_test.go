package function

import (
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"

	"github.com/agentchat/agentchat/sdk/e2ee"
)

// TestPublicKeysRefused: every path that registers a public key (login on
// a new device, login naming a device, agent registration) refuses each
// published low-order point and a non-canonical encoding with a 400 problem
// naming the field and carrying its code, and registers nothing.
func TestPublicKeysRefused(t *testing.T) {
	t.Parallel()
	a := startAccounts(t, nil)
	s := a.user("kira")

	good, err := base64.StdEncoding.DecodeString(newKey(t))
	if err != nil {
		t.Fatal(err)
	}
	good[31] |= 0x80 // the same point under RFC 7748, a non-canonical encoding
	type badKey struct {
		raw  []byte
		code string
	}
	var bad []badKey
	for _, k := range e2ee.LowOrderKeys() {
		bad = append(bad, badKey{k, codeLowOrderKey})
	}
	bad = append(bad, badKey{good, codeNonCanonicalKey})
	if len(bad) != 20 {
		t.Fatalf("%d keys to try, want the 19 published low-order encodings and one non-canonical", len(bad))
	}

	check := func(path string, r response, want string) {
		t.Helper()
		p := r.problem(t, http.StatusBadRequest)
		if p.Code != want || !strings.HasPrefix(p.Detail, "publicKey:") || p.Type != "urn:agentchat:problem:validation" {
			t.Errorf("%s: problem %+v, want code %q and a detail naming publicKey", path, p, want)
		}
	}
	for _, k := range bad {
		b64 := base64.StdEncoding.EncodeToString(k.raw)
		t.Run(hex.EncodeToString(k.raw), func(t *testing.T) {
			check("login, new device", a.call("POST", "/v1/login", "", map[string]string{
				"username": "kira", "password": "password-kira", "publicKey": b64}), k.code)
			check("login, raw base64", a.call("POST", "/v1/login", "", map[string]string{
				"username": "kira", "password": "password-kira", "publicKey": strings.TrimRight(b64, "=")}), k.code)
			check("login, existing device", a.call("POST", "/v1/login", "", map[string]string{
				"username": "kira", "password": "password-kira", "deviceId": s.DeviceID, "publicKey": b64}), k.code)
			check("agent", a.call("POST", "/v1/agents", s.AccessToken, map[string]string{
				"name": "Bad", "agentKind": "model", "publicKey": b64}), k.code)
		})
	}

	var devs struct{ Devices []deviceView }
	a.must(a.call("GET", "/v1/devices", s.AccessToken, nil), http.StatusOK, &devs)
	if len(devs.Devices) != 1 || devs.Devices[0].DeviceID != s.DeviceID {
		t.Errorf("devices = %+v, want only the login's own", devs.Devices)
	}
	var agents struct{ Agents []agentView }
	a.must(a.call("GET", "/v1/agents", s.AccessToken, nil), http.StatusOK, &agents)
	if len(agents.Agents) != 0 {
		t.Errorf("agents = %+v, want none", agents.Agents)
	}
}
