package function

import (
	"encoding/base64"
	"net/http"
	"testing"

	"github.com/agentchat/agentchat/sdk/e2ee"
	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/fn/fntest"
)

// TestSigningKey: a device registers its signing key once, with a binding
// that names its user and X25519 key; the key is then published wherever
// device keys are listed, and caches are told. Keys that would let anyone
// sign, bindings for another user or key, and other callers are refused.
func TestSigningKey(t *testing.T) {
	t.Parallel()
	broker := fntest.NewBroker(t)
	a := startAccounts(t, func(c *Config) { c.Sink = broker.URL })
	jo, kim := a.user("joan"), a.user("kim")
	x25519 := func(s sessionResponse) []byte {
		var out struct{ Devices []deviceView }
		a.must(a.call("GET", "/v1/devices", s.AccessToken, nil), http.StatusOK, &out)
		for _, d := range out.Devices {
			if d.Current {
				b, _ := base64.StdEncoding.DecodeString(d.PublicKey)
				return b
			}
		}
		t.Fatal("no current device")
		return nil
	}
	k, err := e2ee.GenerateSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.StdEncoding.EncodeToString
	body := func(key *e2ee.SigningKey, user string, x []byte) map[string]string {
		return map[string]string{"signingKey": b64(key.PublicKeyBytes()), "binding": b64(e2ee.SignBinding(key, user, x))}
	}
	path := "/v1/devices/" + jo.DeviceID + "/signing-key"
	joX := x25519(jo)

	identity := make([]byte, 32)
	identity[0] = 1
	for name, c := range map[string]struct {
		body map[string]string
		code string
	}{
		"binding for another user": {body(k, kim.UserID, joX), codeBadBinding},
		"binding for another key":  {body(k, jo.UserID, x25519(kim)), codeBadBinding},
		"small-order key":          {map[string]string{"signingKey": b64(identity), "binding": b64(make([]byte, 64))}, codeLowOrderKey},
		"not base64 of 32 bytes":   {map[string]string{"signingKey": "short", "binding": ""}, ""},
		"binding is not base64":    {map[string]string{"signingKey": b64(k.PublicKeyBytes()), "binding": "!"}, codeBadBinding},
	} {
		if p := a.call("PUT", path, jo.AccessToken, c.body).problem(t, http.StatusBadRequest); p.Code != c.code {
			t.Errorf("%s: code %q, want %q", name, p.Code, c.code)
		}
	}
	// Another user may not set it (the device is not theirs to name).
	a.call("PUT", path, kim.AccessToken, body(k, jo.UserID, joX)).problem(t, http.StatusNotFound)

	seen := len(broker.Events())
	var got keyView
	a.must(a.call("PUT", path, jo.AccessToken, body(k, jo.UserID, joX)), http.StatusOK, &got)
	if got.SigningKey != b64(k.PublicKeyBytes()) || got.DeviceID != jo.DeviceID {
		t.Errorf("PUT signing-key = %+v", got)
	}
	evs := broker.Events()
	if len(evs) != seen+1 || evs[seen].Type() != events.TypeDeviceChanged {
		t.Fatalf("events after the key was set: %d new, want one device.changed", len(evs)-seen)
	}
	if d, err := events.Decode[events.DeviceChanged](evs[seen]); err != nil || d.SigningKey != got.SigningKey || d.Device != jo.DeviceID {
		t.Errorf("device.changed = %+v, %v; want joan's device with its signing key", d, err)
	}
	registered, _ := events.NewDeviceChanged(events.DeviceChanged{User: jo.UserID, Device: jo.DeviceID})
	if evs[seen].ID() == registered.ID() {
		t.Error("the signing key's announcement has the id of the device's registration: a deduplicating hop would drop it")
	}
	a.must(a.call("PUT", path, jo.AccessToken, body(k, jo.UserID, joX)), http.StatusOK, nil) // a retry
	other, _ := e2ee.GenerateSigningKey()
	a.call("PUT", path, jo.AccessToken, body(other, jo.UserID, joX)).problem(t, http.StatusConflict)

	// Published: the user's and the conversation's key directories; kim's
	// device has none (an old client) and is listed without.
	var c conversationView
	a.must(a.call("POST", "/v1/conversations", kim.AccessToken, map[string]any{"kind": "direct", "members": []string{jo.UserID}}), http.StatusCreated, &c)
	for _, p := range []string{"/v1/users/" + jo.UserID + "/devices", "/v1/conversations/" + c.ConversationID + "/devices"} {
		var dir struct{ Devices []keyView }
		a.must(a.call("GET", p, kim.AccessToken, nil), http.StatusOK, &dir)
		keys := map[string]string{}
		for _, d := range dir.Devices {
			keys[d.DeviceID] = d.SigningKey
		}
		if keys[jo.DeviceID] != b64(k.PublicKeyBytes()) || keys[kim.DeviceID] != "" {
			t.Errorf("%s: signing keys %v", p, keys)
		}
	}

	// An agent's owner sets the agent device's key (the binding names the
	// agent); nobody else may.
	ax, _ := e2ee.GenerateKey()
	var reg struct{ AgentID, DeviceID string }
	a.must(a.call("POST", "/v1/agents", jo.AccessToken, map[string]string{"name": "Signer", "agentKind": "model",
		"publicKey": b64(ax.PublicKeyBytes()), "agentId": "signer-1"}), http.StatusCreated, &reg)
	ak := e2ee.DeriveSigningKey(ax)
	apath := "/v1/devices/" + reg.DeviceID + "/signing-key"
	a.call("PUT", apath, kim.AccessToken, body(ak, reg.AgentID, ax.PublicKeyBytes())).problem(t, http.StatusNotFound)
	a.must(a.call("PUT", apath, jo.AccessToken, body(ak, reg.AgentID, ax.PublicKeyBytes())), http.StatusOK, &got)
	if got.SigningKey != b64(ak.PublicKeyBytes()) {
		t.Errorf("agent's signing key = %+v", got)
	}
}
