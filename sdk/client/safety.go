package client

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"slices"

	"github.com/agentchat/agentchat/sdk/e2ee"
)

// SafetyNumber is the 60-digit safety number of the signed-in user and
// user, from both users' current devices in accounts' key directory
// (e2ee.SafetyNumber; docs/e2ee.md, "Safety numbers"). The same two users
// get the same number on every client; it changes when either adds, loses
// or replaces a device. Show it with e2ee.FormatSafetyNumber.
func (s *Session) SafetyNumber(ctx context.Context, user string) (string, error) {
	me := s.UserID()
	mine, err := s.UserDevices(ctx, me)
	if err != nil {
		return "", err
	}
	theirs, err := s.UserDevices(ctx, user)
	if err != nil {
		return "", err
	}
	km, err := identityKeys(mine)
	if err != nil {
		return "", err
	}
	kt, err := identityKeys(theirs)
	if err != nil {
		return "", err
	}
	return e2ee.SafetyNumber(me, km, user, kt), nil
}

// identityKeys is a user's identity key bytes from their directory entries.
func identityKeys(ds []Device) ([]byte, error) {
	ids := make([]e2ee.DeviceIdentity, len(ds))
	for i, d := range ds {
		pub, err := base64.StdEncoding.DecodeString(d.PublicKey)
		if err != nil {
			return nil, fmt.Errorf("accounts: device %q: public key: %w", d.DeviceID, err)
		}
		ids[i].PublicKey = pub
		if d.SigningKey != "" {
			if ids[i].SigningKey, err = base64.StdEncoding.DecodeString(d.SigningKey); err != nil {
				return nil, fmt.Errorf("accounts: device %q: signing key: %w", d.DeviceID, err)
			}
		}
	}
	return e2ee.IdentityKeyBytes(ids), nil
}

// Identities is, for every member of conversation but the signed-in user,
// a digest of their identity (hex SHA-256 of their identity key bytes:
// every current device's keys). A client keeps what it saw and compares
// the next time (ChangedIdentities): a different digest means the
// member's safety number changed — a device added, removed or replaced.
func (s *Session) Identities(ctx context.Context, conversation string) (map[string]string, error) {
	ds, err := s.ConversationDeviceList(ctx, conversation)
	if err != nil {
		return nil, err
	}
	me := s.UserID()
	byUser := map[string][]Device{}
	for _, d := range ds {
		if d.UserID != "" && d.UserID != me {
			byUser[d.UserID] = append(byUser[d.UserID], d)
		}
	}
	out := make(map[string]string, len(byUser))
	for u, uds := range byUser {
		keys, err := identityKeys(uds)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(keys)
		out[u] = hex.EncodeToString(sum[:])
	}
	return out, nil
}

// ChangedIdentities lists the users whose identity digest in now differs
// from the one remembered in seen, and records now in seen. Users not
// seen before are recorded silently (a first sight is no change).
func ChangedIdentities(seen, now map[string]string) []string {
	var changed []string
	for u, d := range now {
		if before, ok := seen[u]; ok && before != d {
			changed = append(changed, u)
		}
		seen[u] = d
	}
	slices.Sort(changed)
	return changed
}
