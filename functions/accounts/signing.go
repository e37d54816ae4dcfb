package function

import (
	"encoding/base64"
	"errors"
	"net/http"

	"github.com/agentchat/agentchat/sdk/e2ee"
	"github.com/agentchat/agentchat/store"
	"github.com/agentchat/agentchat/store/directory"
)

type signingKeyRequest struct {
	SigningKey string `json:"signingKey"` // standard base64 of a 32-byte Ed25519 public key
	Binding    string `json:"binding"`    // standard base64 of the device's signature of e2ee.BindingBytes
}

// Problem code of a binding signature that does not verify.
const codeBadBinding = "bad_binding"

// setSigningKey registers a device's Ed25519 signing key
// (PUT /v1/devices/{deviceId}/signing-key), once: the device itself sets
// it after login (it then knows its user id, which the binding names), or
// an agent's owner for the agent's device. The key must pass
// e2ee.ValidateSigningKey and sign the binding (the device's user and
// X25519 key); the same key again is 200, another key 409. Caches of the
// device list are told (device.changed), so audiences carry the key.
func (s *service) setSigningKey(w http.ResponseWriter, r *http.Request, p principal) error {
	var req signingKeyRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	ctx := r.Context()
	d, err := s.dir.DeviceByID(ctx, r.PathValue("deviceId"))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return notFound("device")
	case err != nil:
		return err
	}
	if d.User != p.User || d.ID != p.Device {
		// Only the device, or the owner of the agent whose device it is.
		u, err := s.dir.UserByID(ctx, d.User)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if err != nil || u.Kind != directory.KindAgent || u.OwnerID != p.User {
			return notFound("device")
		}
	}
	key, binding, err := checkSigningKey(req, d.User, d.PublicKey)
	if err != nil {
		return err
	}
	d, err = s.dir.SetSigningKey(ctx, d.User, d.ID, key, binding)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return notFound("device")
	case errors.Is(err, store.ErrDuplicate):
		return problem(http.StatusConflict, "the device has another signing key; a device's signing key is set once")
	case err != nil:
		return err
	}
	s.log.Info("accounts: signing key registered", "user", d.User, "device", d.ID, "by", p.User)
	s.announceDevice(ctx, d)
	writeJSON(w, http.StatusOK, keyView{UserID: d.User, DeviceID: d.ID, PublicKey: d.PublicKey, SigningKey: d.SigningKey})
	return nil
}

// checkSigningKey checks req's signing key and its binding of user and
// publicKey (the device's X25519 key, as stored) and returns both in the
// directory's encoding: the device's own registration and an admin's key
// rotation (admin_agents.go) check alike.
func checkSigningKey(req signingKeyRequest, user, publicKey string) (key, binding string, _ error) {
	k, err := base64.StdEncoding.DecodeString(req.SigningKey)
	if err != nil || len(k) != e2ee.SigningPublicKeySize {
		return "", "", invalid("signingKey", "must be base64 (standard alphabet) of a 32-byte Ed25519 public key")
	}
	switch err := e2ee.ValidateSigningKey(k); {
	case errors.Is(err, e2ee.ErrLowOrderKey):
		pr := invalid("signingKey", "is an Ed25519 key of small order (anyone could sign under it); generate a new key")
		pr.Code = codeLowOrderKey
		return "", "", pr
	case errors.Is(err, e2ee.ErrNonCanonicalKey):
		pr := invalid("signingKey", "is not the canonical encoding of an Ed25519 public key")
		pr.Code = codeNonCanonicalKey
		return "", "", pr
	case err != nil:
		return "", "", invalid("signingKey", "is not an Ed25519 public key")
	}
	x25519, err := base64.StdEncoding.DecodeString(publicKey)
	if err != nil {
		return "", "", err // the directory holds only checked keys
	}
	b, err := base64.StdEncoding.DecodeString(req.Binding)
	if err != nil || e2ee.VerifyBinding(k, user, x25519, b) != nil {
		pr := invalid("binding", "must be base64 of the signing key's signature of the device binding (user id and X25519 key; docs/e2ee.md)")
		pr.Code = codeBadBinding
		return "", "", pr
	}
	return base64.StdEncoding.EncodeToString(k), base64.StdEncoding.EncodeToString(b), nil
}
