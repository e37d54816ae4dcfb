package agent

import (
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/agentchat/agentchat/sdk/e2ee"
	"github.com/agentchat/agentchat/sdk/events"
)

// Key is one agent's private key, as its runtime holds it. Device is the
// agent's device id when AGENT_KEYS names it ("" otherwise: Identify
// finds it in the audience).
type Key struct {
	Agent   string
	Device  string
	Private *e2ee.PrivateKey
}

// ParseKeys reads AGENT_KEYS: entries separated by commas or white space,
// each "agentId:base64key" or "agentId:deviceId:base64key", the key being
// the 32 raw bytes of the agent's X25519 private key in standard base64.
// On a cluster the variable comes from a Secret; nothing else ever holds
// these keys (no database), and they are never logged — errors name the
// entry or the agent, never the key.
func ParseKeys(s string) (map[string]Key, error) {
	keys := map[string]Key{}
	for _, entry := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\t' }) {
		parts := strings.Split(entry, ":")
		var k Key
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
		if k.Private, err = e2ee.ParsePrivateKey(raw); err != nil {
			return nil, fmt.Errorf("agent %s: %w", k.Agent, err)
		}
		if _, dup := keys[k.Agent]; dup {
			return nil, fmt.Errorf("agent %s: listed twice", k.Agent)
		}
		keys[k.Agent] = k
	}
	return keys, nil
}
