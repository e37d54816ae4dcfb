// Package agent is what an agent's runtime needs to act as an agent
// member of conversations, from events alone: its private key
// (ParseKeys, from AGENT_KEYS), who it is in a conversation (Identify,
// against the audience an invoke carries), opening the message it is
// asked to answer, sealing its reply for exactly the audience persist
// wants, the events it sends (reply, typing, partials, done, error), and
// persist's answer to its reply (OutcomeOf), which a Trigger brings back
// to it. It reads no database: an agent written with it imports only the
// SDK (docs/agents.md).
package agent
