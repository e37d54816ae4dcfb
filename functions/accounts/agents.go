package function

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"

	"github.com/agentchat/agentchat/store"
	"github.com/agentchat/agentchat/store/directory"
)

type registerAgentRequest struct {
	Name      string `json:"name"`
	AgentKind string `json:"agentKind"`
	PublicKey string `json:"publicKey"`
	AgentID   string `json:"agentId"`
}

type agentView struct {
	AgentID   string `json:"agentId"`
	Name      string `json:"name"`
	AgentKind string `json:"agentKind"`
	PublicKey string `json:"publicKey"`
	DeviceID  string `json:"deviceId"`
	OwnerID   string `json:"ownerId"`
}

// agentDeviceID is the id of an agent's one device, derived from the agent
// id so that a retried registration finds the device it already wrote.
func agentDeviceID(agentID string) string {
	h := sha256.Sum256([]byte("agent-device\x00" + agentID))
	return "dv-" + hex.EncodeToString(h[:])[:24]
}

// registerAgent makes an agent: a user of kind "agent", owned by the caller,
// with one device whose public key is the agent's (its private key stays
// with the agent's runtime). 201 when created; 200 when the same caller
// registers the same agentId with the same key again.
//
// Two documents, written device first: the device's id is derived from the
// agent id and reserved by its insert, and a device whose user does not
// exist is invisible (key directories list devices of existing users only).
// So a failure before the user insert leaves nothing anyone acts on, and the
// retry, finding its own device, goes on to insert the user.
func (s *service) registerAgent(w http.ResponseWriter, r *http.Request, p principal) error {
	var req registerAgentRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	return s.registerAgentFor(w, r, req, p.User)
}

// registerAgentFor registers req's agent owned by owner: the caller, or
// the user an admin names (the admin API). The limits count against the
// caller's address and the owner's account either way.
func (s *service) registerAgentFor(w http.ResponseWriter, r *http.Request, req registerAgentRequest, owner string) error {
	name, err := checkName("name", req.Name, "")
	if err != nil {
		return err
	}
	if !agentKindPattern.MatchString(req.AgentKind) {
		return invalid("agentKind", "must be 1–32 of a-z, 0-9, _ . -")
	}
	publicKey, err := checkPublicKey("publicKey", req.PublicKey)
	if err != nil {
		return err
	}
	id := req.AgentID
	if id == "" {
		id = newID("a-")
	} else if !validID(id) || strings.HasPrefix(id, "u-") || strings.HasPrefix(id, "dv-") {
		return invalid("agentId", "malformed (and must not start with u- or dv-)")
	}
	ctx := r.Context()
	mine := func(u directory.User) bool {
		return u.Kind == directory.KindAgent && u.OwnerID == owner && u.PublicKey == publicKey
	}
	switch u, err := s.dir.UserByID(ctx, id); {
	case err == nil && mine(u):
		writeJSON(w, http.StatusOK, map[string]string{"agentId": id, "deviceId": u.DeviceID})
		return nil
	case err == nil:
		return problem(http.StatusConflict, "agentId %q is taken", id)
	case !errors.Is(err, store.ErrNotFound):
		return err
	}

	// A new agent is a new device: counted against the caller's address;
	// and an agent of the caller's: counted against the caller's account.
	if err := s.takeRegistration(ctx, "device:ip:"+clientIP(r, s.cfg.TrustedProxyHops), s.cfg.RegisterRate.Device,
		codeDevicesPerAddress, "too many new devices from this address; try again later"); err != nil {
		return err
	}
	if err := s.takeRegistration(ctx, "agent:user:"+owner, s.cfg.UserRegisterRate.Agent,
		codeAgentsPerUser, "too many new agents for this account; try again later"); err != nil {
		return err
	}
	now := s.now().UTC()
	dev := directory.Device{ID: agentDeviceID(id), User: id, Name: name, PublicKey: publicKey, CreatedAt: now}
	switch err := s.dir.InsertDevice(ctx, dev); {
	case errors.Is(err, store.ErrDuplicate):
		d, err := s.dir.DeviceByID(ctx, dev.ID)
		if err != nil {
			return err
		}
		if d.User != id || d.PublicKey != publicKey || d.Revoked() {
			return problem(http.StatusConflict, "agentId %q is taken", id)
		}
	case err != nil:
		return err
	}
	u := directory.User{ID: id, Kind: directory.KindAgent, Name: name, AgentKind: req.AgentKind, OwnerID: owner,
		DeviceID: dev.ID, PublicKey: publicKey, CreatedAt: now}
	switch err := s.dir.InsertUser(ctx, u); {
	case errors.Is(err, store.ErrDuplicate):
		existing, err := s.dir.UserByID(ctx, id)
		if err != nil {
			return err
		}
		if !mine(existing) {
			return problem(http.StatusConflict, "agentId %q is taken", id)
		}
		writeJSON(w, http.StatusOK, map[string]string{"agentId": id, "deviceId": dev.ID})
		return nil
	case err != nil:
		return err
	}
	s.log.Info("accounts: agent registered", "agent", id, "agentKind", req.AgentKind, "owner", owner)
	s.announceDevice(ctx, dev)
	writeJSON(w, http.StatusCreated, map[string]string{"agentId": id, "deviceId": dev.ID})
	return nil
}

// listAgents is the directory of agents anyone may start a conversation with.
func (s *service) listAgents(w http.ResponseWriter, r *http.Request, p principal) error {
	us, err := s.dir.AllAgents(r.Context(), maxListed)
	if err != nil {
		return err
	}
	out := make([]agentView, 0, len(us))
	for _, u := range us {
		out = append(out, agentView{AgentID: u.ID, Name: u.Name, AgentKind: u.AgentKind, PublicKey: u.PublicKey, DeviceID: u.DeviceID, OwnerID: u.OwnerID})
	}
	writeJSON(w, http.StatusOK, map[string]any{"agents": out})
	return nil
}
