// Package connector is agentchat's WebSocket edge: it authenticates a device
// at upgrade, turns its frames into CloudEvents posted to the broker
// (K_SINK), keeps the device's presence in Redis, and writes the deliveries
// route publishes on this connector's Redis channel back to the device.
//
// It keeps no state but live sockets. The backing services sit behind the
// small interfaces in deps.go (Sink, Presence, Deliveries, Verifier), with
// the HTTP, Redis and JWKS implementations in files of their own, so the core
// (conn.go, inbound.go, outbound.go) can be read and tested on its own.
//
// Concurrency: every goroutine starts through the server's tracker and stops
// through one path (conn.shutdown, Server.Drain / Server.Close). Each socket
// has one reader goroutine, one writer goroutine and a bounded outbound
// queue; enqueueing never blocks, and a client that cannot keep up is closed
// with 4008 rather than allowed to slow anyone else. Lock order: Server.mu
// (the registry) before conn.mu; no lock is held across network I/O.
package connector
