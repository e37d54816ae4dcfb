package client

import (
	"context"
	"encoding/base64"
	"fmt"

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
