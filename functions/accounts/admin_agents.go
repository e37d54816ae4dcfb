package function

import (
	"errors"
	"net/http"

	"github.com/agentchat/agentchat/store"
	"github.com/agentchat/agentchat/store/directory"
)

// Admin actions on conversations' members and on agents: each is the
// path a member or an owner takes (members.go, agents.go), without the
// check that the caller is one, so what is stored and announced is the
// same.

// adminGetConversation shows any conversation: kind, title, members.
func (s *service) adminGetConversation(w http.ResponseWriter, r *http.Request, _ principal) error {
	c, err := s.dir.Conversation(r.Context(), r.PathValue("id"))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return notFound("conversation")
	case err != nil:
		return err
	}
	writeJSON(w, http.StatusOK, viewConversation(c))
	return nil
}

// adminAddMember adds a user to any group, as a member would.
func (s *service) adminAddMember(w http.ResponseWriter, r *http.Request, p principal) error {
	return s.addMemberAs(w, r, p, true)
}

// adminRemoveMember removes a member from any group, as a member would.
func (s *service) adminRemoveMember(w http.ResponseWriter, r *http.Request, p principal) error {
	return s.removeMemberAs(w, r, p, true)
}

type adminRegisterAgentRequest struct {
	registerAgentRequest
	OwnerID string `json:"ownerId"`
}

// adminRegisterAgent registers an agent owned by ownerId (a person), as
// that owner would (POST /v1/agents).
func (s *service) adminRegisterAgent(w http.ResponseWriter, r *http.Request, _ principal) error {
	var req adminRegisterAgentRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if !validID(req.OwnerID) {
		return invalid("ownerId", "is required")
	}
	switch u, err := s.dir.UserByID(r.Context(), req.OwnerID); {
	case errors.Is(err, store.ErrNotFound) || err == nil && u.Kind != directory.KindUser:
		return invalid("ownerId", "no user %q (an agent cannot own an agent)", req.OwnerID)
	case err != nil:
		return err
	}
	return s.registerAgentFor(w, r, req.registerAgentRequest, req.OwnerID)
}

type rotateAgentKeyRequest struct {
	PublicKey string `json:"publicKey"`
	// SigningKey and Binding optionally register the signing key for the
	// new key in the same call (as PUT /v1/devices/{id}/signing-key), so
	// the agent's replies are never shown unverified in between.
	SigningKey string `json:"signingKey"`
	Binding    string `json:"binding"`
}

// adminRotateAgentKey replaces the agent's public X25519 key: its one
// device's key in the directory (which key directories and audiences
// read) and the copy on the agent. The device's signing key is cleared —
// its binding signed the old key — unless a new one comes with the call.
// The device keeps its id, so tokens and Triggers are untouched; the
// agent's runtime must hold the new private key (AGENT_KEYS), or it
// refuses to act for the agent. Announced as device.changed, like a
// registration, so route's and persist's caches and the clients'
// directories refresh. The same key again changes nothing (a retry; a
// signing key bound to it stays).
func (s *service) adminRotateAgentKey(w http.ResponseWriter, r *http.Request, _ principal) error {
	var req rotateAgentKeyRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	ctx, id := r.Context(), r.PathValue("agentId")
	u, err := s.dir.UserByID(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound) || err == nil && u.Kind != directory.KindAgent:
		return notFound("agent")
	case err != nil:
		return err
	}
	publicKey, err := checkPublicKey("publicKey", req.PublicKey)
	if err != nil {
		return err
	}
	var signingKey, binding string
	if req.SigningKey != "" || req.Binding != "" {
		if signingKey, binding, err = checkSigningKey(signingKeyRequest{SigningKey: req.SigningKey, Binding: req.Binding}, id, publicKey); err != nil {
			return err
		}
	}
	d, err := s.dir.DeviceByID(ctx, u.DeviceID)
	switch {
	case errors.Is(err, store.ErrNotFound) || err == nil && d.Revoked():
		return problem(http.StatusConflict, "the agent's device is revoked; register a new agent")
	case err != nil:
		return err
	}
	if d.PublicKey != publicKey {
		d, err = s.dir.RotateKey(ctx, id, d.ID, publicKey)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return problem(http.StatusConflict, "the agent's device is revoked; register a new agent")
		case errors.Is(err, store.ErrDuplicate):
			return problem(http.StatusConflict, "the agent had this key before; use a new key")
		case err != nil:
			return err
		}
	}
	if signingKey != "" {
		d, err = s.dir.SetSigningKey(ctx, id, d.ID, signingKey, binding)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return problem(http.StatusConflict, "the agent's device is revoked; register a new agent")
		case errors.Is(err, store.ErrDuplicate):
			return problem(http.StatusConflict, "the device has another signing key for this key; rotate to a new key to replace it")
		case err != nil:
			return err
		}
	}
	s.log.Info("accounts: agent key rotated", "agent", id, "device", d.ID, "signingKey", d.SigningKey != "")
	s.announceDevice(ctx, d)
	writeJSON(w, http.StatusOK, keyView{UserID: id, DeviceID: d.ID, PublicKey: d.PublicKey, SigningKey: d.SigningKey})
	return nil
}
