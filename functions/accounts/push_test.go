package function

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"

	"github.com/agentchat/agentchat/store/pushsubs"
)

// A device sets and clears its own push subscription, validated (an
// allowed endpoint, keys of the right size); nobody else's; revoking the
// device removes it; GET /v1/push serves the VAPID key.
func TestPushSubscription(t *testing.T) {
	t.Parallel()
	vapid, _ := ecdh.P256().GenerateKey(rand.Reader)
	vapidPub := base64.RawURLEncoding.EncodeToString(vapid.PublicKey().Bytes())
	a := startAccounts(t, func(c *Config) {
		c.VAPIDPublicKey = vapidPub
		c.PushEndpoints = "http://127.0.0.1:9/push/,https://fcm.googleapis.com/"
	})
	jo, kim := a.user("pjoan"), a.user("pkim")

	var cfg pushConfigView
	a.must(a.call("GET", "/v1/push", jo.AccessToken, nil), http.StatusOK, &cfg)
	if cfg.VAPIDPublicKey != vapidPub {
		t.Errorf("vapidPublicKey = %q, want %q", cfg.VAPIDPublicKey, vapidPub)
	}
	a.call("GET", "/v1/push", "", nil).problem(t, http.StatusUnauthorized)

	ua, _ := ecdh.P256().GenerateKey(rand.Reader)
	b64 := base64.RawURLEncoding.EncodeToString
	sub := func(endpoint string, p256dh, auth []byte) map[string]any {
		return map[string]any{"endpoint": endpoint, "expirationTime": nil,
			"keys": map[string]string{"p256dh": b64(p256dh), "auth": b64(auth)}}
	}
	good := sub("http://127.0.0.1:9/push/jo", ua.PublicKey().Bytes(), make([]byte, 16))
	path := "/v1/devices/" + jo.DeviceID + "/push-subscription"
	for name, body := range map[string]map[string]any{
		"endpoint not allowed": sub("https://internal.example/x", ua.PublicKey().Bytes(), make([]byte, 16)),
		"http off the list":    sub("http://127.0.0.1:10/push/jo", ua.PublicKey().Bytes(), make([]byte, 16)),
		"short p256dh":         sub("http://127.0.0.1:9/push/jo", ua.PublicKey().Bytes()[:33], make([]byte, 16)),
		"short auth":           sub("http://127.0.0.1:9/push/jo", ua.PublicKey().Bytes(), make([]byte, 8)),
	} {
		if p := a.call("PUT", path, jo.AccessToken, body).problem(t, http.StatusBadRequest); !strings.Contains(p.Detail, "push subscription") {
			t.Errorf("%s: detail %q", name, p.Detail)
		}
	}
	// Only the device itself.
	a.call("PUT", path, kim.AccessToken, good).problem(t, http.StatusNotFound)
	a.call("DELETE", path, kim.AccessToken, nil).problem(t, http.StatusNotFound)

	stored := func() []pushsubs.Subscription {
		got, err := a.f.svc.Load().pushSubs.Get(context.Background(), []string{jo.DeviceID})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	a.must(a.call("PUT", path, jo.AccessToken, good), http.StatusNoContent, nil)
	if got := stored(); len(got) != 1 || got[0].User != jo.UserID || got[0].Endpoint != "http://127.0.0.1:9/push/jo" {
		t.Fatalf("stored = %+v", got)
	}
	a.must(a.call("DELETE", path, jo.AccessToken, nil), http.StatusNoContent, nil)
	if got := stored(); len(got) != 0 {
		t.Errorf("after DELETE: %+v", got)
	}
	a.must(a.call("PUT", path, jo.AccessToken, good), http.StatusNoContent, nil)
	a.must(a.call("DELETE", "/v1/devices/"+jo.DeviceID, jo.AccessToken, nil), http.StatusNoContent, nil)
	if got := stored(); len(got) != 0 {
		t.Errorf("a revoked device keeps its subscription: %+v", got)
	}
}

// Without a VAPID key push is off: its routes say so.
func TestPushOff(t *testing.T) {
	t.Parallel()
	a := startAccounts(t, nil)
	jo := a.user("pjo2")
	a.call("GET", "/v1/push", jo.AccessToken, nil).problem(t, http.StatusNotFound)
	a.call("PUT", "/v1/devices/"+jo.DeviceID+"/push-subscription", jo.AccessToken, map[string]any{}).problem(t, http.StatusNotFound)
}
