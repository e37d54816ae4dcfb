// Package directory is the platform's directory contract: users (people
// and agents, an agent with its one device's public key), devices
// (current or revoked, each with its X25519 public key) and conversations
// (kind, title, members, a revision counting membership changes, and the
// change log that orders them).
//
// accounts is the only writer (Directory); persist and route only read
// (Reader), through Cached, which keeps what they read in memory and is
// kept current by the change events accounts emits after each committed
// change (io.agentchat.conversation.changed, io.agentchat.device.changed)
// and, since a Trigger brings each event to one replica, by the changes the
// other replicas share through a Broadcast (RedisBroadcast, or its twin
// MemoryBroadcast), with a TTL only as a backstop for a lost event.
//
// Mongo is the implementation on MongoDB (and on the FerretDB stand-in),
// Memory its in-memory twin; RunSuite (directorytest) checks both against
// one contract. Every guarantee rests on inserts guarded by unique indexes,
// never on transactions or on atomic concurrent updates, which FerretDB
// does not have (docs/data.md). No array is ever one btree key: the
// conversations of a user are found through the memberships collection,
// one small document per (user, conversation), so a group of 1,024 members
// fits any backend's index limits.
package directory
