package presence

import (
	"strconv"
	"strings"
	"time"
)

// TTL is how long a record outlives its last claim or heartbeat. Connectors
// refresh their records several times per TTL (the connector: every TTL/3,
// spread over that interval), so one missed heartbeat loses nothing.
const TTL = 30 * time.Second

// Key is the Redis key of (user, device)'s record. Every key starts with the
// deployment-wide prefix (REDIS_PREFIX, events.DefaultRedisPrefix).
func Key(prefix, user, device string) string {
	return prefix + "presence:" + user + ":" + device
}

// FormatRecord is a record's value: "<connector id>|<stamp>". The Lua
// scripts (*.lua) write and read the same format.
func FormatRecord(connector string, stamp uint64) string {
	return connector + "|" + strconv.FormatUint(stamp, 10)
}

// ParseRecord reads a record's value. A value without a stamp (a connector
// from before stamps wrote a bare connector id) is that connector with stamp
// 0, older than any stamped socket.
func ParseRecord(v string) (connector string, stamp uint64) {
	if i := strings.LastIndexByte(v, '|'); i >= 0 {
		if n, err := strconv.ParseUint(v[i+1:], 10, 64); err == nil { // digits only, no sign
			return v[:i], n
		}
	}
	return v, 0
}
