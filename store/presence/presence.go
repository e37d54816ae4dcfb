// Package presence is the contract of who holds which device: each
// connector records the device sockets it holds (Registry), route reads
// where each device is (Locator). One owner for the key layout, the record
// format and the scripts, so the writers and the reader cannot drift.
//
// A device's record names one socket: the connector that holds it and the
// socket's stamp (FormatRecord). A stamp orders a device's sockets by when
// they were upgraded, not by when their goroutines got to run: a connector
// takes it (Admit) just before it answers the upgrade, from the store's one
// clock and always above the stamp in the record, and a record is only ever
// replaced by a socket with a stamp at least as high. So the newest socket of
// a device holds the record, whichever connector it is on and whichever claim
// lands last. A record lives for TTL after its last heartbeat (Refresh), so a
// connector that dies without releasing its sockets stops being named within
// TTL. Heartbeats and releases take many sockets at once, so a connector's
// cost to the store grows with its sockets divided by a batch, not with its
// sockets.
//
// Implementations: Redis (one key per device, see Key; every compare-and-act
// a Lua script, atomic on the server) and Memory, its in-memory twin for
// tests. One suite (presence_suite_test.go) runs against a real Redis, the
// dev runner's miniredis and the twin.
package presence

import (
	"context"

	"github.com/agentchat/agentchat/sdk/events"
)

// Registry is the presence store as one connector writes it; it holds that
// connector's id.
type Registry interface {
	// Admit is called before a socket of dev is upgraded, in one round
	// trip: it reports whether accounts marked dev revoked while tokens
	// issued to it may still be valid (events.RevokedKey), whether it
	// marked dev's user suspended (events.SuspendedKey), and the
	// socket's stamp: microseconds of the store's clock, above the stamp of
	// every socket of dev admitted before (by any connector sharing the
	// store), even if the clock stepped back.
	Admit(ctx context.Context, dev events.DeviceRef) (Admission, error)
	// Claim records that the socket with stamp on this connector holds
	// dev, for TTL, unless a newer socket (a higher stamp, on any
	// connector) holds it already: then it reports false and the caller
	// closes this socket (4009). A record without a stamp counts as
	// stamp 0. Claiming again is harmless.
	Claim(ctx context.Context, dev events.DeviceRef, stamp uint64) (bool, error)
	// Refresh is the heartbeat of held, in as few round trips as the store
	// allows (Redis: one script call per RefreshBatch sockets, pipelined).
	// It extends for TTL each record that is still its socket's, records
	// again those whose record expired or vanished (a Redis restart) or
	// names an older socket, and returns those whose record names a newer
	// socket (or another connector's socket with the same stamp, which
	// claimed last): they are stale here and should be closed. On an error
	// some of held may have been refreshed and lost is incomplete.
	Refresh(ctx context.Context, held []Held) (lost []Held, err error)
	// Release removes the record of each of held only if it still names
	// that socket (this connector and its stamp), so a newer socket of the
	// device, here or elsewhere, keeps its record; in as few round trips as
	// Refresh. Releasing a socket that never claimed, or lost its record,
	// is harmless.
	Release(ctx context.Context, held []Held) error
}

// Locator is the presence store as route reads it.
type Locator interface {
	// Locate groups the devices that have a record by the connector it
	// names; devices without one (offline, or expired) are left out. It
	// reads a snapshot: a device may move or go before the caller acts on
	// it, which is why deliveries are best effort and devices sync by seq.
	Locate(ctx context.Context, devices []events.DeviceRef) (map[string][]events.DeviceRef, error)
}

// Store is one deployment's presence: a Registry per connector, and the
// Locator that reads what they all write.
type Store interface {
	Locator
	// Connector is the Registry of the connector with this id.
	Connector(id string) Registry
}

// Admission is what Registry.Admit knows about a socket before its upgrade.
type Admission struct {
	Revoked   bool
	Suspended bool   // the user's account is suspended (refuse like Revoked)
	Stamp     uint64 // microseconds of the store's clock (or above, see Admit)
}

// Held is a socket that holds its device on this connector.
type Held struct {
	Dev   events.DeviceRef
	Stamp uint64
}
