// Package messages is the platform's message log and receipt cursors:
// persist writes them, route (sync) and agent runtimes read them.
//
// A message is written once, under its conversation's next gapless seq,
// and never updated or deleted: seqs of a conversation are exactly 1..N,
// and a message has one idempotency key (conversation, sender, sender
// device, client message id). Store.Insert is the only arbiter of both:
// unique indexes refuse a taken seq or a stored key, atomically on every
// backend, so any number of writers stay correct without transactions or
// atomic updates (the FerretDB stand-in has neither; docs/data.md).
// Because seqs are gapless, "seq s exists" implies "s-1 exists": Has,
// LastSeq and After rely on it.
//
// A cursor is how far one member has received (delivered) and shown
// (read) a conversation, over all its devices. Cursors only move forward;
// they are hints (unread counts, ticks recovered on sync), never the
// source of a message.
//
// Mongo implements Store and Cursors on MongoDB and FerretDB, Memory is
// the in-memory twin, and one suite (suite_test.go) checks both.
// GroupCommit coalesces cursor writes for the hot path.
//
// A sender key distribution holds a wrapped key for every member device
// (~200 KB in a group of 1,024), of which a reader can use one: reads
// name the device they read for (AllDevices) and return its key alone, and
// Mongo keeps a big distribution's keys out of the message document, in
// buckets it reads by _id (keys.go).
package messages
