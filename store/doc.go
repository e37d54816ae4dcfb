// Package store is agentchat's middle layer: it owns the platform's own
// data contracts — the directory (members, devices, keys, agents),
// messages, cursors, presence and delivery channels — so that persist,
// route, agent-invoke, accounts and the connector share one definition of
// each shape and key layout instead of copies.
//
// Each contract lives in its own package as an interface whose methods
// state their contract, with one MongoDB or Redis implementation, an
// in-memory twin, and one shared test suite run against both (the real
// service from the test command's environment, see storetest). Agent
// builders never need this module: an agent learns its audience from the
// invoke event (the SDK's events package).
//
// This root package holds what every MongoDB-backed contract shares: the
// connection (Mongo, with a command monitor that counts what each process
// asks of the storage) and the sentinel errors.
//
// Every guarantee rests on inserts guarded by unique indexes, never on
// transactions or on the atomicity of concurrent updates: the FerretDB
// stand-in applies neither (docs/data.md), and nothing more is needed from
// a real MongoDB.
package store
