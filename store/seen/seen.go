// Package seen is the contract of who is online and when each user was
// last seen: the user-level view that presence (docs/protocol.md,
// "Presence") shows to a user's watchers. store/presence says where each
// device's socket is, for routing; this package says whether any socket of
// a user is live, for people. The connectors write it (Connected, Refresh,
// Disconnected: they know when sockets come and go), route reads it
// (States) when it tells watchers. One owner for the key layout and the
// scripts.
//
// A user's entry is the set of their sockets, each "<device>|<stamp>"
// (the socket's stamp from store/presence) with an expiry: a socket counts
// until TTL after its last refresh, so a connector that dies without
// saying goodbye stops counting within TTL (nobody announces that; the
// next read of the state is right, last seen the socket's last
// heartbeat). A newer socket of a device replaces
// the older one; an older one never replaces a newer one, so a device that
// moves between connectors stays online throughout. The user is online
// while the set has a live socket; the moment the last one leaves
// (Disconnected) is their last seen.
//
// Implementations: Redis (a sorted set per user scored by expiry, a string
// for the last seen; every compare-and-act a Lua script) and Memory, the
// twin. One suite (seen_suite_test.go) runs against a real Redis,
// miniredis and the twin.
package seen

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/store/presence"
)

// TTL is how long a socket counts after its last refresh, by default:
// store/presence's, since the connectors refresh both on one heartbeat.
const TTL = presence.TTL

// LastSeenTTL is how long a user's last seen (and their socket set) is
// kept after they leave.
const LastSeenTTL = 400 * 24 * time.Hour

// Socket is one socket of a user's device: its stamp orders the device's
// sockets (store/presence.Registry.Admit).
type Socket = presence.Held

// State is one user's presence: Online while a socket of theirs is live
// (Devices: those sockets' devices; Arrived: when each device's newest
// live socket was admitted, its stamp on store/presence's clock), else
// LastSeen, when the last one left (zero: never seen, or so long ago it
// was forgotten). A socket that closed counts as live until its departure
// is written (the connectors' PRESENCE_GRACE).
type State struct {
	Online   bool
	Devices  []string
	Arrived  map[string]time.Time
	LastSeen time.Time
}

// stampTime is a socket's stamp as a time: microseconds of the store's
// clock (store/presence.Registry.Admit).
func stampTime(stamp uint64) time.Time { return time.UnixMicro(int64(stamp)).UTC() }

// arrive records in st that device's socket with stamp is live.
func (st *State) arrive(device string, stamp uint64) {
	st.Devices = append(st.Devices, device)
	if st.Arrived == nil {
		st.Arrived = make(map[string]time.Time, 1)
	}
	if t := stampTime(stamp); t.After(st.Arrived[device]) {
		st.Arrived[device] = t
	}
}

// Store is the presence of users.
type Store interface {
	// Connected records s as live for TTL, replacing an older socket of
	// its device; a socket older than the device's recorded one is not
	// recorded. It reports whether the user had no live socket before: they
	// just came online. Connecting again is harmless (and reports false).
	Connected(ctx context.Context, s Socket) (cameOnline bool, err error)
	// Refresh is the heartbeat of many sockets: each is live for TTL
	// again (recorded again if its entry vanished, a Redis restart), in
	// one round trip.
	Refresh(ctx context.Context, sockets []Socket) error
	// Disconnected removes s (if it is still the recorded socket of its
	// device) and reports whether the user has no live socket left: then
	// at is their last seen (unless a later one is recorded). Calling it
	// again reports the same, so a retried announcement is the same.
	Disconnected(ctx context.Context, s Socket, at time.Time) (wentOffline bool, err error)
	// States reads users' states (users without an entry: offline,
	// LastSeen as recorded), in one round trip.
	States(ctx context.Context, users []string) (map[string]State, error)
}

// Keys of the Redis layout, under the deployment's prefix.
func socketsKey(prefix, user string) string  { return prefix + "seen:" + user }
func lastSeenKey(prefix, user string) string { return prefix + "lastseen:" + user }

// member is a socket's member of its user's set: "<device>|<stamp>".
func member(s Socket) string { return s.Dev.Device + "|" + strconv.FormatUint(s.Stamp, 10) }

// parseMember splits a member; ok is false for one that is not a socket's.
func parseMember(m string) (device string, stamp uint64, ok bool) {
	i := strings.LastIndexByte(m, '|')
	if i < 0 {
		return "", 0, false
	}
	n, err := strconv.ParseUint(m[i+1:], 10, 64)
	return m[:i], n, err == nil
}

// checkSocket refuses what cannot be a socket of a user's device.
func checkSocket(s Socket) error {
	if !events.ValidID(s.Dev.User) || !events.ValidID(s.Dev.Device) || s.Stamp == 0 {
		return errBadSocket
	}
	return nil
}
