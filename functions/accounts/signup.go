package function

import (
	"errors"
	"net/http"
	"unicode/utf8"

	"github.com/agentchat/agentchat/store"
	"github.com/agentchat/agentchat/store/directory"
)

type signupRequest struct {
	Username    string `json:"username"`
	Password    string `json:"password"`
	DisplayName string `json:"displayName"`
}

// signup creates a person: one insert, guarded by the unique username
// index, so a race between two sign-ups for one name leaves exactly one.
// Sign-ups are limited per client address (REGISTER_RATE).
func (s *service) signup(w http.ResponseWriter, r *http.Request) error {
	var req signupRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	username := normalizeUsername(req.Username)
	if !usernamePattern.MatchString(username) {
		return invalid("username", "must be 3–32 of a-z, 0-9, _ . -")
	}
	if err := checkPassword(req.Password); err != nil {
		return err
	}
	name, err := checkName("displayName", req.DisplayName, username)
	if err != nil {
		return err
	}
	// Counted before the (costly) hash, taken name or not.
	addr := clientIP(r, s.cfg.TrustedProxyHops)
	if err := s.takeRegistration(r.Context(), "signup:ip:"+addr, s.cfg.RegisterRate.Signup,
		codeSignupsPerAddress, "too many sign-ups from this address; try again later"); err != nil {
		return err
	}
	hash, err := s.hasher.Hash(r.Context(), req.Password)
	if err != nil {
		return err
	}
	u := directory.User{ID: newID("u-"), Kind: directory.KindUser, Username: username, Name: name, PasswordHash: hash, CreatedAt: s.now().UTC()}
	switch err := s.dir.InsertUser(r.Context(), u); {
	case errors.Is(err, store.ErrDuplicate):
		return problem(http.StatusConflict, "username %q is taken", username)
	case err != nil:
		return err
	}
	s.log.Info("accounts: signed up", "user", u.ID)
	writeJSON(w, http.StatusCreated, map[string]string{"userId": u.ID})
	return nil
}

func checkPassword(pw string) error {
	if utf8.RuneCountInString(pw) < minPassword || len(pw) > maxPassword {
		return invalid("password", "must be at least %d characters (at most %d bytes)", minPassword, maxPassword)
	}
	return nil
}
