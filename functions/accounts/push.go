package function

import (
	"crypto/ecdh"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"

	"github.com/agentchat/agentchat/store/pushsubs"
)

// Web Push (docs/accounts.md, "Push subscriptions"): a device registers
// the PushSubscription its browser made with the VAPID key served here;
// the push function wakes it with it while it is offline. A revoked
// device loses its subscription (revoke).

type pushConfigView struct {
	VAPIDPublicKey string `json:"vapidPublicKey"` // base64url, the applicationServerKey to subscribe with
}

type pushSubscriptionRequest struct {
	Endpoint string `json:"endpoint"`
	Keys     struct {
		P256dh string `json:"p256dh"`
		Auth   string `json:"auth"`
	} `json:"keys"`
	ExpirationTime any `json:"expirationTime,omitempty"` // what toJSON() gives; not used
}

// errPushOff answers while no VAPID key is configured.
var errPushOff = problem(http.StatusNotFound, "push notifications are not configured on this server")

// pushConfig serves the VAPID public key (GET /v1/push).
func (s *service) pushConfig(w http.ResponseWriter, r *http.Request, _ principal) error {
	if s.cfg.VAPIDPublicKey == "" {
		return errPushOff
	}
	writeJSON(w, http.StatusOK, pushConfigView{VAPIDPublicKey: s.cfg.VAPIDPublicKey})
	return nil
}

// setPushSubscription sets the calling device's subscription
// (PUT /v1/devices/{deviceId}/push-subscription), replacing any other;
// only the device itself may. 204.
func (s *service) setPushSubscription(w http.ResponseWriter, r *http.Request, p principal) error {
	if s.cfg.VAPIDPublicKey == "" {
		return errPushOff
	}
	if r.PathValue("deviceId") != p.Device {
		return notFound("device")
	}
	var req pushSubscriptionRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	sub, err := pushsubs.Validate(pushsubs.Subscription{User: p.User, Device: p.Device,
		Endpoint: req.Endpoint, P256dh: req.Keys.P256dh, Auth: req.Keys.Auth, UpdatedAt: s.now()}, s.pushEndpoints)
	if err != nil {
		return problem(http.StatusBadRequest, "%s", err.Error())
	}
	// authed checked that the device is current. A revocation racing
	// this put may leave the subscription behind, unused: persist leaves a
	// revoked device out of every audience, so nothing pushes to it.
	if err := s.pushSubs.Put(r.Context(), sub); err != nil {
		return err
	}
	s.log.Info("accounts: push subscription set", "user", p.User, "device", p.Device)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// deletePushSubscription removes the calling device's subscription
// (DELETE /v1/devices/{deviceId}/push-subscription); none is fine. 204.
func (s *service) deletePushSubscription(w http.ResponseWriter, r *http.Request, p principal) error {
	if r.PathValue("deviceId") != p.Device {
		return notFound("device")
	}
	if err := s.pushSubs.Delete(r.Context(), p.Device); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// checkVAPIDPublicKey: empty, or base64url of an uncompressed P-256 point.
func checkVAPIDPublicKey(k string) error {
	if k == "" {
		return nil
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(k, "="))
	if err != nil {
		return errors.New("not base64url")
	}
	if _, err := ecdh.P256().NewPublicKey(b); err != nil || len(b) != 65 {
		return errors.New("not an uncompressed P-256 public key (65 bytes)")
	}
	return nil
}
