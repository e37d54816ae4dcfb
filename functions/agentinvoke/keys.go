package function

import (
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/agentchat/agentchat/sdk/e2ee"
	"github.com/agentchat/agentchat/sdk/events"
)

// agentKey is one agent's private key, as the runtime holds it. Device is
// the agent's device id when AGENT_KEYS names it; otherwise it is read
// from the agent's user document (accounts derives it from the agent id).
type agentKey struct {
	Agent  string
	Device string
	Key    *e2ee.PrivateKey
}

// parseKeys reads AGENT_KEYS: entries separated by commas or white space,
// each "agentId:base64key" or "agentId:deviceId:base64key", the key being
// the 32 raw bytes of the agent's X25519 private key in standard base64.
// On a cluster the variable comes from a Secret; nothing else ever holds
// these keys (never MongoDB), and they are never logged.
func parseKeys(s string) (map[string]agentKey, error) {
	keys := map[string]agentKey{}
	for _, entry := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\t' }) {
		parts := strings.Split(entry, ":")
		var k agentKey
		var enc string
		switch len(parts) {
		case 2:
			k.Agent, enc = parts[0], parts[1]
		case 3:
			k.Agent, k.Device, enc = parts[0], parts[1], parts[2]
		default:
			return nil, fmt.Errorf("entry %d: want agentId:base64key or agentId:deviceId:base64key", len(keys)+1)
		}
		if !events.ValidID(k.Agent) || (k.Device != "" && !events.ValidID(k.Device)) {
			return nil, fmt.Errorf("entry %d: malformed agent or device id", len(keys)+1)
		}
		raw, err := base64.StdEncoding.DecodeString(enc)
		if err != nil {
			return nil, fmt.Errorf("agent %s: key is not standard base64", k.Agent)
		}
		if k.Key, err = e2ee.ParsePrivateKey(raw); err != nil {
			return nil, fmt.Errorf("agent %s: %w", k.Agent, err)
		}
		if _, dup := keys[k.Agent]; dup {
			return nil, fmt.Errorf("agent %s: listed twice", k.Agent)
		}
		keys[k.Agent] = k
	}
	return keys, nil
}
