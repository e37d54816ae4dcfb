package events

// The Redis contract between connectors (writers of presence, readers of
// deliveries) and route (reader of presence, publisher of deliveries).
// Every key and channel starts with a deployment-wide prefix (REDIS_PREFIX,
// default DefaultRedisPrefix) so tests and tenants never share keys.

// DefaultRedisPrefix is used when REDIS_PREFIX is not set.
const DefaultRedisPrefix = "agentchat:"

// PresenceKey holds the id of the connector that holds (user, device). It has
// a TTL (PresenceTTLSeconds) kept alive by the connector's heartbeat and is
// deleted on disconnect only by the connector that wrote it.
func PresenceKey(prefix, user, device string) string {
	return prefix + "presence:" + user + ":" + device
}

// PresenceTTLSeconds is how long a presence key outlives its last heartbeat.
const PresenceTTLSeconds = 30

// DeliveryChannel is the pub/sub channel a connector subscribes to; route
// publishes TypeDelivery events (structured JSON) on it.
func DeliveryChannel(prefix, connectorID string) string {
	return prefix + "deliver:" + connectorID
}
