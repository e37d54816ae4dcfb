package events

import (
	"strconv"
	"strings"
)

// The Redis contract between connectors (writers of presence, readers of
// deliveries) and route (reader of presence, publisher of deliveries).
// Every key and channel starts with a deployment-wide prefix (REDIS_PREFIX,
// default DefaultRedisPrefix) so tests and tenants never share keys.

// DefaultRedisPrefix is used when REDIS_PREFIX is not set.
const DefaultRedisPrefix = "agentchat:"

// PresenceKey holds the presence record of (user, device): which connector
// holds the device's socket, and that socket's stamp (FormatPresence). It
// has a TTL (PresenceTTLSeconds) kept alive by the connector's heartbeat and
// is deleted on disconnect only by the socket that wrote it.
//
// Stamps order a device's sockets by when they were upgraded (not by when
// their goroutines got to run): a connector takes a stamp from Redis's clock
// just before it answers the upgrade, always above the stamp in the record,
// and a record is only ever replaced by one with a higher (or equal) stamp.
// So the newest socket of a device holds the record, whichever connector
// it is on and whichever claim lands last.
func PresenceKey(prefix, user, device string) string {
	return prefix + "presence:" + user + ":" + device
}

// FormatPresence is a presence record's value: "<connector id>|<stamp>".
func FormatPresence(connector string, stamp uint64) string {
	return connector + "|" + strconv.FormatUint(stamp, 10)
}

// ParsePresence reads a presence record's value. A value without a stamp
// (a connector from before stamps wrote a bare connector id) is that
// connector with stamp 0, older than any stamped socket. The connector's Lua
// scripts read the same format (connector/presence_*.lua).
func ParsePresence(v string) (connector string, stamp uint64) {
	if i := strings.LastIndexByte(v, '|'); i >= 0 {
		if n, err := strconv.ParseUint(v[i+1:], 10, 64); err == nil { // digits only, no sign
			return v[:i], n
		}
	}
	return v, 0
}

// PresenceTTLSeconds is how long a presence key outlives its last heartbeat.
const PresenceTTLSeconds = 30

// DeliveryChannel is the pub/sub channel a connector subscribes to; route
// publishes TypeDelivery events (structured JSON) on it.
func DeliveryChannel(prefix, connectorID string) string {
	return prefix + "deliver:" + connectorID
}

// RevocationChannel is the pub/sub channel every connector subscribes to
// besides its own: accounts publishes a DeviceRevoked (JSON) on it when a
// device is revoked, and the connector holding that device closes its
// socket (protocol.CloseRevoked) at once instead of when the device's
// token expires. Best effort: a revocation published while a connector's
// subscription is down is caught by the token's expiry, and every event
// from a revoked device is refused downstream anyway.
func RevocationChannel(prefix string) string { return prefix + "revoked" }

// RevokedKey marks a revoked device for as long as an access token issued
// to it may still be valid (accounts sets it with the access-token TTL):
// connectors refuse such a device at upgrade, since they verify tokens
// without asking accounts.
func RevokedKey(prefix, user, device string) string {
	return prefix + "revoked:" + user + ":" + device
}

// TypeDeviceRevoked is DeviceRevoked's Type.
const TypeDeviceRevoked = "io.agentchat.device.revoked"

// DeviceRevoked is the message on RevocationChannel.
type DeviceRevoked struct {
	Type   string `json:"type"` // TypeDeviceRevoked
	User   string `json:"user"`
	Device string `json:"device"`
}
