package function

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/agentchat/agentchat/store"
	"github.com/agentchat/agentchat/store/directory"
)

type createConversationRequest struct {
	Kind    string   `json:"kind"`
	Members []string `json:"members"`
	Title   string   `json:"title"`
	// ConversationID optionally names a new group, which makes creating
	// it idempotent for the client that retries.
	ConversationID string `json:"conversationId"`
}

type conversationView struct {
	ConversationID string    `json:"conversationId"`
	Kind           string    `json:"kind"`
	Members        []string  `json:"members"`
	Title          string    `json:"title"`
	CreatedBy      string    `json:"createdBy"`
	CreatedAt      time.Time `json:"createdAt"`
	UpdatedAt      time.Time `json:"updatedAt"`
	// Admins: who may manage the group (absent: every member may, a group
	// from before admins; and a direct conversation)
	Admins []string `json:"admins,omitempty"`
}

func viewConversation(c directory.Conversation) conversationView {
	members := c.Members
	if members == nil {
		members = []string{}
	}
	return conversationView{ConversationID: c.ID, Kind: c.Kind, Members: members, Title: c.Title,
		CreatedBy: c.CreatedBy, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt, Admins: c.Admins}
}

// directID is the id of the direct conversation between two users: the same
// pair always gives the same id, so creating it twice (or from both sides)
// finds the first.
func directID(a, b string) string {
	if b < a {
		a, b = b, a
	}
	h := sha256.Sum256([]byte(a + "\x00" + b))
	return "d-" + hex.EncodeToString(h[:])[:24]
}

// createConversation creates a direct or group conversation with the caller
// as a member. 201 when created, 200 when it already existed (direct: the
// pair's conversation; group: the caller's conversationId).
func (s *service) createConversation(w http.ResponseWriter, r *http.Request, p principal) error {
	var req createConversationRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	members := []string{p.User}
	for i, m := range req.Members {
		if !validID(m) {
			return invalid("members", "entry %d is not a valid user id", i)
		}
		if !slices.Contains(members, m) {
			members = append(members, m)
		}
	}
	title := strings.TrimSpace(req.Title)
	if utf8.RuneCountInString(title) > maxTitleLen {
		return invalid("title", "at most %d characters", maxTitleLen)
	}
	now := s.now().UTC()
	c := directory.Conversation{Kind: req.Kind, Members: members, Title: title, CreatedBy: p.User, CreatedAt: now, UpdatedAt: now}
	if req.Kind == directory.Group {
		c.Admins = []string{p.User} // its creator is a group's first admin
	}
	switch req.Kind {
	case directory.Direct:
		if len(members) != 2 {
			return invalid("members", "a direct conversation has exactly one other member")
		}
		if req.ConversationID != "" {
			return invalid("conversationId", "not allowed for a direct conversation (its id is derived from the members)")
		}
		slices.Sort(c.Members)
		c.ID = directID(members[0], members[1])
	case directory.Group:
		if len(members) > maxGroupMembers {
			return invalid("members", "at most %d members", maxGroupMembers)
		}
		c.ID = req.ConversationID
		if c.ID == "" {
			c.ID = newID("g-")
		} else if !validID(c.ID) || strings.HasPrefix(c.ID, "d-") {
			return invalid("conversationId", "malformed (and must not start with d-)")
		}
	default:
		return invalid("kind", `must be "direct" or "group"`)
	}
	if err := s.checkUsersExist(r, members); err != nil {
		return err
	}
	err := s.dir.InsertConversation(r.Context(), c)
	if errors.Is(err, store.ErrDuplicate) {
		existing, err := s.dir.Conversation(r.Context(), c.ID)
		if err != nil {
			return err
		}
		if existing.Kind != c.Kind || (c.Kind == directory.Group && existing.CreatedBy != p.User) {
			return problem(http.StatusConflict, "conversationId is taken")
		}
		if !existing.IsMember(p.User) {
			// the caller left this direct conversation or group: it stays left
			return problem(http.StatusConflict, "conversation exists and you are not a member")
		}
		writeJSON(w, http.StatusOK, viewConversation(existing))
		return nil
	}
	if err != nil {
		return err
	}
	c.Rev = 1
	s.log.Info("accounts: conversation created", "conversation", c.ID, "kind", c.Kind, "members", len(c.Members))
	s.announceConversation(r.Context(), c, p, nil)
	writeJSON(w, http.StatusCreated, viewConversation(c))
	return nil
}

// checkUsersExist is a 400 naming the first unknown member.
func (s *service) checkUsersExist(r *http.Request, ids []string) error {
	found, err := s.dir.ExistingUsers(r.Context(), ids)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if !found[id] {
			return invalid("members", "no user %q", id)
		}
	}
	return nil
}

// maxListed caps list answers; paging can come when someone has more.
const maxListed = 1000

func (s *service) listConversations(w http.ResponseWriter, r *http.Request, p principal) error {
	cs, err := s.dir.ConversationsOf(r.Context(), p.User, maxListed)
	if err != nil {
		return err
	}
	out := make([]conversationView, 0, len(cs))
	for _, c := range cs {
		out = append(out, viewConversation(c))
	}
	writeJSON(w, http.StatusOK, map[string]any{"conversations": out})
	return nil
}

// memberConversation reads conversation {id} for a member; to anyone else
// it does not exist (404), so ids cannot be probed.
func (s *service) memberConversation(r *http.Request, p principal) (directory.Conversation, error) {
	c, err := s.dir.Conversation(r.Context(), r.PathValue("id"))
	switch {
	case errors.Is(err, store.ErrNotFound) || err == nil && !c.IsMember(p.User):
		return c, notFound("conversation")
	case err != nil:
		return c, err
	}
	return c, nil
}

func (s *service) getConversation(w http.ResponseWriter, r *http.Request, p principal) error {
	c, err := s.memberConversation(r, p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, viewConversation(c))
	return nil
}

// conversationDevices is the key directory a sender encrypts for: every
// current device of every member (agents included), members only.
func (s *service) conversationDevices(w http.ResponseWriter, r *http.Request, p principal) error {
	c, err := s.memberConversation(r, p)
	if err != nil {
		return err
	}
	ds, err := s.keys.CurrentDevices(r.Context(), c.Members)
	if err != nil {
		return err
	}
	agents, err := s.keys.Agents(r.Context(), c.Members) // cached, as the devices are
	if err != nil {
		return err
	}
	isAgent := make(map[string]bool, len(agents))
	for _, a := range agents {
		isAgent[a.ID] = true
	}
	out := make([]keyView, 0, len(ds))
	for _, d := range ds {
		out = append(out, keyView{UserID: d.User, DeviceID: d.ID, PublicKey: d.PublicKey, SigningKey: d.SigningKey, Agent: isAgent[d.User]})
	}
	writeJSON(w, http.StatusOK, map[string]any{"devices": out})
	return nil
}
