// Package connector is agentchat's WebSocket edge: it authenticates a device
// at upgrade, turns its frames into CloudEvents posted to the broker
// (K_SINK), keeps the device's presence in Redis, and writes the deliveries
// route publishes on this connector's Redis channel back to the device.
//
// It keeps no state but live sockets. The backing services sit behind the
// small interfaces in deps.go (Sink, Presence, Deliveries, Verifier), with
// the HTTP, Redis and JWKS implementations in files of their own (presence
// is the store module's contract, store/presence), so the core (conn.go,
// inbound.go, outbound.go) can be read and tested on its own.
//
// One socket per device, the newest: each socket gets a stamp before its
// upgrade is answered (Presence.Admit: Redis's clock in microseconds, above
// the stamp in the device's presence record), and of two sockets of one
// device the one with the higher stamp wins, whatever order their accepts
// run in. Here, accept closes the lower one with 4009 (the socket already
// held, or the one arriving late); across connectors, the presence record
// carries the stamp and Claim never lets an older socket overwrite a newer
// one's record, so the older socket is closed (4009) at its claim or at its
// connector's next heartbeat (Refresh). The Server.upgraded hook lets
// tests hold a socket between upgrade and accept to force the interleaving.
//
// Concurrency: every goroutine starts through the server's tracker and stops
// through one path (conn.shutdown, Server.Drain / Server.Close). An idle
// socket has no goroutine and no buffer of its own (wire.go, poller_linux.go):
// one epoll goroutine watches every idle socket; when one is readable, a
// goroutine reads the frames that arrived (through a buffer borrowed from a
// pool), handles them and returns; when frames are queued for a socket, a
// goroutine writes them and returns. Writes block (up to WriteTimeout per
// frame), which is why a busy socket gets a writer goroutine of its own
// rather than a turn in a fixed pool: one client that stops reading must
// not hold up the writes of others. One ticker pings every socket and closes
// the silent ones; a token's expiry is a runtime timer (no goroutine). The
// presence heartbeat is one timer wheel (presence.go): each tick refreshes
// one slot's sockets with one batched Presence.Refresh, so the refreshes
// are spread over the interval; releases are batched by group commit.
// Sockets without a file descriptor, or off Linux, keep one reader
// goroutine each.
//
// Each socket has an outbound queue bounded in frames and bytes; enqueueing
// never blocks, and a client that cannot keep up is closed with 4008 (or, if
// even the close frame cannot be written within WriteTimeout, its TCP
// connection is cut: 1006) rather than allowed to slow anyone else.
//
// Lock order: Server.mu (the registry) before conn.mu; conn.readMu (held by
// the socket's reader, across its reads and its posts to the sink) before
// conn.mu; conn.mu before the queue's lock. The release queue's lock is a
// leaf. No other lock is held across network I/O.
package connector
