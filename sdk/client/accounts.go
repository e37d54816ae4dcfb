package client

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/agentchat/agentchat/sdk/e2ee"
)

// Accounts is a client of the accounts HTTP API (v1): sign-up, login and
// token refresh. What needs a signed-in device lives on Session. It is safe
// for concurrent use.
type Accounts struct {
	base string
	http *http.Client
}

// NewAccounts talks to the accounts function at baseURL (scheme and host,
// e.g. "http://127.0.0.1:8081"). A nil hc means a client with a 30 s timeout.
func NewAccounts(baseURL string, hc *http.Client) *Accounts {
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	return &Accounts{base: strings.TrimRight(baseURL, "/"), http: hc}
}

// Tokens is the answer to login and refresh. Save RefreshToken (and the
// device's private key) to come back as the same device with Resume.
type Tokens struct {
	UserID       string `json:"userId"`
	DeviceID     string `json:"deviceId"`
	AccessToken  string `json:"accessToken"`
	RefreshToken string `json:"refreshToken"`
	ExpiresIn    int64  `json:"expiresIn"` // seconds the access token is valid for
}

// Signup creates a user and returns its id. A taken username is a
// ProblemError with status 409.
func (a *Accounts) Signup(ctx context.Context, username, password, displayName string) (string, error) {
	in := map[string]string{"username": username, "password": password}
	if displayName != "" {
		in["displayName"] = displayName
	}
	var out struct {
		UserID string `json:"userId"`
	}
	if err := a.do(ctx, http.MethodPost, "/v1/signup", "", in, &out); err != nil {
		return "", err
	}
	return out.UserID, nil
}

// LoginRequest signs in. Without DeviceID a new device is registered with
// PublicKey (required then); with DeviceID the existing device is used.
type LoginRequest struct {
	Username   string
	Password   string
	DeviceID   string
	DeviceName string
	PublicKey  *ecdh.PublicKey
	// SigningKey, with PublicKey, is registered for the device right after
	// login (Session.SetSigningKey), so that its messages verify. A retried
	// login registers the same key again, which accounts accepts.
	SigningKey *e2ee.SigningKey
}

// Login signs in and returns a Session that keeps its access token fresh.
// Too many attempts are a ProblemError with status 429 and RetryAfter.
func (a *Accounts) Login(ctx context.Context, r LoginRequest) (*Session, error) {
	in := map[string]string{"username": r.Username, "password": r.Password}
	if r.DeviceID != "" {
		in["deviceId"] = r.DeviceID
	}
	if r.DeviceName != "" {
		in["deviceName"] = r.DeviceName
	}
	if r.PublicKey != nil {
		in["publicKey"] = base64.StdEncoding.EncodeToString(r.PublicKey.Bytes())
	}
	var t Tokens
	if err := a.do(ctx, http.MethodPost, "/v1/login", "", in, &t); err != nil {
		return nil, err
	}
	s := a.Resume(t)
	if r.SigningKey != nil && r.PublicKey != nil {
		if err := s.SetSigningKey(ctx, t.DeviceID, t.UserID, r.PublicKey.Bytes(), r.SigningKey); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// SetSigningKey registers key as the signing key of device (user's, with
// X25519 public key x25519): this session's own device, or the device of
// an agent this session's user owns (whose key is then
// e2ee.DeriveSigningKey of the agent's). The binding signature proves the
// key's holder meant it for that user and X25519 key. A device's key is
// set once: the same key again succeeds, another is a ProblemError 409.
func (s *Session) SetSigningKey(ctx context.Context, device, user string, x25519 []byte, key *e2ee.SigningKey) error {
	in := map[string]string{
		"signingKey": base64.StdEncoding.EncodeToString(key.PublicKeyBytes()),
		"binding":    base64.StdEncoding.EncodeToString(e2ee.SignBinding(key, user, x25519)),
	}
	return s.call(ctx, http.MethodPut, "/v1/devices/"+url.PathEscape(device)+"/signing-key", in, nil)
}

// Refresh trades a refresh token for new tokens. Refresh tokens rotate: the
// old one must not be used again (reuse revokes the device's tokens), which
// is why a Session serialises its refreshes.
func (a *Accounts) Refresh(ctx context.Context, refreshToken string) (Tokens, error) {
	var t Tokens
	err := a.do(ctx, http.MethodPost, "/v1/token/refresh", "", map[string]string{"refreshToken": refreshToken}, &t)
	return t, err
}

// Resume builds a Session from saved tokens (the access token may be stale:
// the first Token call refreshes it).
func (a *Accounts) Resume(t Tokens) *Session {
	s := &Session{a: a, tok: t}
	if t.ExpiresIn > 0 && t.AccessToken != "" {
		s.expiry = time.Now().Add(time.Duration(t.ExpiresIn) * time.Second)
	}
	return s
}

// do sends in as JSON (if not nil) and decodes a 2xx body into out (if not
// nil). Any other status is a *ProblemError.
func (a *Accounts) do(ctx context.Context, method, path, token string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("accounts: %s %s: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, body)
	if err != nil {
		return fmt.Errorf("accounts: %s %s: %w", method, path, err)
	}
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := a.http.Do(req)
	if err != nil {
		return fmt.Errorf("accounts: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return readProblem(resp)
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxProblemBody))
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("accounts: %s %s: decode answer: %w", method, path, err)
	}
	return nil
}

// Session is a signed-in device: it hands out a fresh access token (Token,
// which fits Config.Token) and calls the authenticated routes. It is safe for
// concurrent use; refreshes are serialised because refresh tokens rotate.
type Session struct {
	a *Accounts

	mu     sync.Mutex // held across a refresh, so only one runs
	tok    Tokens
	expiry time.Time // zero: refresh before use
}

// refreshMargin is how long before expiry a token is refreshed, so that a
// token handed to a WebSocket upgrade is not about to lapse.
const refreshMargin = time.Minute

// UserID is the signed-in user.
func (s *Session) UserID() string { s.mu.Lock(); defer s.mu.Unlock(); return s.tok.UserID }

// DeviceID is this device.
func (s *Session) DeviceID() string { s.mu.Lock(); defer s.mu.Unlock(); return s.tok.DeviceID }

// Tokens returns the current tokens, to save for Resume.
func (s *Session) Tokens() Tokens { s.mu.Lock(); defer s.mu.Unlock(); return s.tok }

// Token returns a valid access token, refreshing it when it is within a
// minute of expiry (or of unknown age).
func (s *Session) Token(ctx context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	margin := refreshMargin
	if ttl := time.Duration(s.tok.ExpiresIn) * time.Second; ttl > 0 && ttl < 4*margin {
		margin = ttl / 4
	}
	if s.tok.AccessToken != "" && !s.expiry.IsZero() && time.Until(s.expiry) > margin {
		return s.tok.AccessToken, nil
	}
	if s.tok.RefreshToken == "" {
		return "", fmt.Errorf("accounts: token expired and no refresh token")
	}
	t, err := s.a.Refresh(ctx, s.tok.RefreshToken)
	if err != nil {
		return "", err
	}
	s.tok = t
	s.expiry = time.Now().Add(time.Duration(t.ExpiresIn) * time.Second)
	return t.AccessToken, nil
}

// call is do with this session's bearer token.
func (s *Session) call(ctx context.Context, method, path string, in, out any) error {
	tok, err := s.Token(ctx)
	if err != nil {
		return err
	}
	return s.a.do(ctx, method, path, tok, in, out)
}

// Conversation as the accounts API lists it.
type Conversation struct {
	ID      string   `json:"conversationId"`
	Kind    string   `json:"kind"` // "direct" or "group"
	Members []string `json:"members"`
	Title   string   `json:"title,omitempty"`
	Admins  []string `json:"admins,omitempty"` // a group's admins (none: every member may manage it)
}

// Conversation kinds.
const (
	KindDirect = "direct"
	KindGroup  = "group"
)

// CreateConversation creates a conversation with members (the caller is
// always added). A direct conversation between the same two users is always
// the same one: creating it again returns it.
func (s *Session) CreateConversation(ctx context.Context, kind string, members []string, title string) (Conversation, error) {
	in := map[string]any{"kind": kind, "members": members}
	if title != "" {
		in["title"] = title
	}
	var c Conversation
	err := s.call(ctx, http.MethodPost, "/v1/conversations", in, &c)
	return c, err
}

// Conversations lists the caller's conversations.
func (s *Session) Conversations(ctx context.Context) ([]Conversation, error) {
	var out struct {
		Conversations []Conversation `json:"conversations"`
	}
	err := s.call(ctx, http.MethodGet, "/v1/conversations", nil, &out)
	return out.Conversations, err
}

// Conversation fetches one conversation (404 unless the caller is a member).
func (s *Session) Conversation(ctx context.Context, id string) (Conversation, error) {
	var c Conversation
	err := s.call(ctx, http.MethodGet, "/v1/conversations/"+url.PathEscape(id), nil, &c)
	return c, err
}

// AddMember adds user to a group conversation.
func (s *Session) AddMember(ctx context.Context, conversation, user string) error {
	return s.call(ctx, http.MethodPost, "/v1/conversations/"+url.PathEscape(conversation)+"/members",
		map[string]string{"userId": user}, nil)
}

// RemoveMember removes user from a group conversation.
func (s *Session) RemoveMember(ctx context.Context, conversation, user string) error {
	return s.call(ctx, http.MethodDelete,
		"/v1/conversations/"+url.PathEscape(conversation)+"/members/"+url.PathEscape(user), nil, nil)
}

// Device is one entry of a key directory.
type Device struct {
	UserID    string `json:"userId,omitempty"`
	DeviceID  string `json:"deviceId"`
	Name      string `json:"name,omitempty"`
	PublicKey string `json:"publicKey"` // standard base64 of 32 bytes
	// SigningKey is the device's Ed25519 public key (standard base64 of 32
	// bytes); empty for a device registered before signing.
	SigningKey string `json:"signingKey,omitempty"`
	// Agent says the device is an agent's (conversation device lists
	// only): a group message wraps its key for agent devices.
	Agent bool `json:"agent,omitempty"`
}

// Recipient turns a directory entry into something Seal can encrypt for.
func (d Device) Recipient() (e2ee.Recipient, error) {
	raw, err := base64.StdEncoding.DecodeString(d.PublicKey)
	if err != nil {
		return e2ee.Recipient{}, fmt.Errorf("accounts: device %q: public key: %w", d.DeviceID, err)
	}
	pub, err := e2ee.ParsePublicKey(raw)
	if err != nil {
		return e2ee.Recipient{}, fmt.Errorf("accounts: device %q: %w", d.DeviceID, err)
	}
	r := e2ee.Recipient{Device: d.DeviceID, PublicKey: pub, User: d.UserID, Agent: d.Agent}
	// A signing key that is missing or refused does not keep anyone from
	// reading the device's messages: they show as unverified.
	if sk, err := base64.StdEncoding.DecodeString(d.SigningKey); err == nil && e2ee.ValidateSigningKey(sk) == nil {
		r.SigningKey = sk
	}
	return r, nil
}

func (s *Session) devices(ctx context.Context, path string) ([]Device, error) {
	var out struct {
		Devices []Device `json:"devices"`
	}
	err := s.call(ctx, http.MethodGet, path, nil, &out)
	return out.Devices, err
}

// ConversationDeviceList is the conversation's key directory: every current
// device of every member (members only).
func (s *Session) ConversationDeviceList(ctx context.Context, conversation string) ([]Device, error) {
	return s.devices(ctx, "/v1/conversations/"+url.PathEscape(conversation)+"/devices")
}

// ConversationDevices is ConversationDeviceList as Seal recipients; it makes
// a Session the Directory of a Client. A malformed key is an error rather
// than a silently skipped device.
func (s *Session) ConversationDevices(ctx context.Context, conversation string) ([]e2ee.Recipient, error) {
	ds, err := s.ConversationDeviceList(ctx, conversation)
	if err != nil {
		return nil, err
	}
	rs := make([]e2ee.Recipient, 0, len(ds))
	for _, d := range ds {
		r, err := d.Recipient()
		if err != nil {
			return nil, err
		}
		rs = append(rs, r)
	}
	return rs, nil
}

// Devices lists the caller's own devices.
func (s *Session) Devices(ctx context.Context) ([]Device, error) {
	return s.devices(ctx, "/v1/devices")
}

// UserDevices lists another user's current devices and keys.
func (s *Session) UserDevices(ctx context.Context, user string) ([]Device, error) {
	return s.devices(ctx, "/v1/users/"+url.PathEscape(user)+"/devices")
}

// RevokeDevice revokes one of the caller's devices.
func (s *Session) RevokeDevice(ctx context.Context, device string) error {
	return s.call(ctx, http.MethodDelete, "/v1/devices/"+url.PathEscape(device), nil, nil)
}

// Agent as the accounts API lists it: a user of kind "agent" with one device.
type Agent struct {
	AgentID   string `json:"agentId"`
	Name      string `json:"name"`
	AgentKind string `json:"agentKind"`
	PublicKey string `json:"publicKey"`
	DeviceID  string `json:"deviceId"`
}

// Agents lists the registered agents.
func (s *Session) Agents(ctx context.Context) ([]Agent, error) {
	var out struct {
		Agents []Agent `json:"agents"`
	}
	err := s.call(ctx, http.MethodGet, "/v1/agents", nil, &out)
	return out.Agents, err
}

// RegisterAgent registers an agent whose runtime holds the private key of
// pub; agentID may be empty to let accounts choose.
func (s *Session) RegisterAgent(ctx context.Context, name, agentKind string, pub *ecdh.PublicKey, agentID string) (Agent, error) {
	in := map[string]string{"name": name, "agentKind": agentKind,
		"publicKey": base64.StdEncoding.EncodeToString(pub.Bytes())}
	if agentID != "" {
		in["agentId"] = agentID
	}
	var a Agent
	if err := s.call(ctx, http.MethodPost, "/v1/agents", in, &a); err != nil {
		return a, err
	}
	a.Name, a.AgentKind, a.PublicKey = name, agentKind, in["publicKey"]
	return a, nil
}

// User is what any signed-in user may see of another (or of an agent).
type User struct {
	UserID    string `json:"userId"`
	Kind      string `json:"kind"` // "user" or "agent"
	Username  string `json:"username,omitempty"`
	Name      string `json:"name"`
	AgentKind string `json:"agentKind,omitempty"`
}

// FindUser turns an exact username into a user (404 if there is none).
func (s *Session) FindUser(ctx context.Context, username string) (User, error) {
	var u User
	err := s.call(ctx, http.MethodGet, "/v1/users?username="+url.QueryEscape(username), nil, &u)
	return u, err
}

// User looks a user or agent up by id ("me" is the caller).
func (s *Session) User(ctx context.Context, id string) (User, error) {
	var u User
	err := s.call(ctx, http.MethodGet, "/v1/users/"+url.PathEscape(id), nil, &u)
	return u, err
}
