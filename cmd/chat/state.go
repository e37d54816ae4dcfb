package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/agentchat/agentchat/sdk/e2ee"
)

// deviceState is what makes this terminal the same device next time: the
// device id, its private key (which never leaves this file) and the latest
// refresh token. Without it every run would be a new device that cannot
// read the history sealed for the old one.
type deviceState struct {
	UserID      string `json:"userId,omitempty"`
	DeviceID    string `json:"deviceId,omitempty"`
	PrivateKey  []byte `json:"privateKey,omitempty"` // raw X25519, base64 in JSON
	SigningSeed []byte `json:"signingKey,omitempty"` // Ed25519 seed, base64 in JSON
	// SigningFor is the device whose signing key accounts has (registered
	// once per device; a new device registers again).
	SigningFor   string `json:"signingFor,omitempty"`
	RefreshToken string `json:"refreshToken,omitempty"`
	// Hidden are the messages deleted for me on this device, by
	// conversation: never sent anywhere.
	Hidden map[string][]int64 `json:"hiddenMessages,omitempty"`
	// Identities are the identity digests of the people this device has
	// talked to, as last seen (client.Identities): a change is shown as
	// "X's security code changed". Public-key digests only.
	Identities map[string]string `json:"identities,omitempty"`

	path string
}

// statePath is one file per accounts host and username.
func statePath(dir, accountsURL, username string) string {
	host := accountsURL
	if u, err := url.Parse(accountsURL); err == nil && u.Host != "" {
		host = u.Host
	}
	safe := strings.NewReplacer("/", "_", ":", "_", "\\", "_").Replace(username + "@" + host)
	return filepath.Join(dir, safe+".json")
}

func defaultStateDir() string {
	if d, err := os.UserConfigDir(); err == nil {
		return filepath.Join(d, "agentchat", "chat")
	}
	return ".agentchat-chat"
}

func loadState(path string) (*deviceState, error) {
	st := &deviceState{path: path}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return nil, fmt.Errorf("chat: read device state: %w", err)
	}
	if err := json.Unmarshal(b, st); err != nil {
		return nil, fmt.Errorf("chat: device state %s: %w", path, err)
	}
	return st, nil
}

// key returns the device key, making one if there is none yet.
func (st *deviceState) key() (*e2ee.PrivateKey, error) {
	if len(st.PrivateKey) > 0 {
		return e2ee.ParsePrivateKey(st.PrivateKey)
	}
	k, err := e2ee.GenerateKey()
	if err != nil {
		return nil, err
	}
	st.PrivateKey = k.Bytes()
	return k, nil
}

// signing returns the device's signing key, making one if there is none
// yet (a state from before signing gets one).
func (st *deviceState) signing() (*e2ee.SigningKey, error) {
	if len(st.SigningSeed) > 0 {
		return e2ee.ParseSigningKey(st.SigningSeed)
	}
	k, err := e2ee.GenerateSigningKey()
	if err != nil {
		return nil, err
	}
	st.SigningSeed, st.SigningFor = k.Seed(), ""
	return k, nil
}

// save writes the state readable by its owner only.
func (st *deviceState) save() error {
	if err := os.MkdirAll(filepath.Dir(st.path), 0o700); err != nil {
		return fmt.Errorf("chat: save device state: %w", err)
	}
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	tmp := st.path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("chat: save device state: %w", err)
	}
	return os.Rename(tmp, st.path)
}
