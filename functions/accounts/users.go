package function

import (
	"errors"
	"net/http"

	"github.com/agentchat/agentchat/store"
	"github.com/agentchat/agentchat/store/directory"
)

// userView is what any signed-in user may see of another: enough to start
// a conversation with them.
type userView struct {
	UserID    string `json:"userId"`
	Kind      string `json:"kind"`
	Username  string `json:"username,omitempty"`
	Name      string `json:"name"`
	AgentKind string `json:"agentKind,omitempty"`
}

func viewUser(u directory.User) userView {
	return userView{UserID: u.ID, Kind: u.Kind, Username: u.Username, Name: u.Name, AgentKind: u.AgentKind}
}

// getUser shows one user or agent by id ("me" is the caller).
func (s *service) getUser(w http.ResponseWriter, r *http.Request, p principal) error {
	id := r.PathValue("userId")
	if id == "me" {
		id = p.User
	}
	u, err := s.dir.UserByID(r.Context(), id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return notFound("user")
	case err != nil:
		return err
	}
	writeJSON(w, http.StatusOK, viewUser(u))
	return nil
}

// findUser looks a person up by exact username (?username=), the way a
// client turns a name someone gave them into a user id. There is no
// listing or prefix search: accounts does not hand out its user list.
func (s *service) findUser(w http.ResponseWriter, r *http.Request, p principal) error {
	username := normalizeUsername(r.URL.Query().Get("username"))
	if !usernamePattern.MatchString(username) {
		return invalid("username", "query parameter required: 3–32 of a-z, 0-9, _ . -")
	}
	u, err := s.dir.UserByUsername(r.Context(), username)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return notFound("user")
	case err != nil:
		return err
	}
	writeJSON(w, http.StatusOK, viewUser(u))
	return nil
}
