package events

// The Redis contract between route (publisher of deliveries), accounts
// (publisher of revocations and suspensions) and connectors (their
// subscribers). Presence (which connector holds which device) is the store module's
// (store/presence). Every key and channel starts with a deployment-wide
// prefix (REDIS_PREFIX, default DefaultRedisPrefix) so tests and tenants
// never share keys.

// DefaultRedisPrefix is used when REDIS_PREFIX is not set.
const DefaultRedisPrefix = "agentchat:"

// RevocationChannel is the pub/sub channel every connector subscribes to
// besides its own: accounts publishes a DeviceRevoked (JSON) on it when a
// device is revoked, and the connector holding that device closes its
// socket (protocol.CloseRevoked) at once instead of when the device's
// token expires; and a UserSuspended when an admin suspends an account,
// and every connector closes each socket of that user
// (protocol.CloseSuspended). Best effort: a revocation published while a
// connector's subscription is down is caught by the token's expiry, and
// every event from a revoked device is refused downstream anyway.
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

// SuspendedKey marks a suspended account for as long as an access token
// issued to it may still be valid (accounts sets it with the access-token
// TTL when an admin suspends the user, and deletes it when the suspension
// is lifted): connectors refuse its devices at upgrade, as they do a
// revoked device (RevokedKey). Past the TTL, accounts itself refuses the
// account new tokens.
func SuspendedKey(prefix, user string) string { return prefix + "suspended:" + user }

// TypeUserSuspended is UserSuspended's Type.
const TypeUserSuspended = "io.agentchat.user.suspended"

// UserSuspended is the message on RevocationChannel that closes every
// socket of a suspended user, on every connector.
type UserSuspended struct {
	Type string `json:"type"` // TypeUserSuspended
	User string `json:"user"`
}
