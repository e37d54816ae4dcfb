package client

import (
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/agentchat/agentchat/sdk/protocol"
)

// resumeState is the resume under way: one frame with the position of a
// page of conversations, answered by one resumed frame.
type resumeState struct {
	id   string // the request's id; "" while none is out
	sent time.Time
	n    int // resume requests written, for their ids
}

// startResume asks, in one frame, for what was missed in every
// conversation of the page after from (all of them, from ""): the last seq
// of each tracked one, at most protocol.MaxResumePositions, in id order.
// The server adds the user's conversations this client does not know yet.
// Until the answer, the page's conversations count as syncing (no gap
// sync of their own); the answer, its refusal or SyncTimeout ends it.
func (c *Client) startResume(now time.Time, from string) {
	s := &c.s
	if s.conn == nil {
		return // every connect resumes
	}
	var ids []string
	for _, id := range slices.Sorted(maps.Keys(s.convs)) {
		if id > from {
			ids = append(ids, id)
		}
	}
	ids = ids[:min(len(ids), protocol.MaxResumePositions)]
	s.resume.n++
	rid := resumeID(s.resume.n)
	pos := make([]protocol.Position, len(ids))
	for i, id := range ids {
		cv := s.convs[id]
		pos[i] = protocol.Position{Conversation: id, Seq: cv.order.last}
		cv.syncing, cv.syncID, cv.syncSent, cv.receipts = true, rid, now, true
	}
	c.write(protocol.Frame{Type: protocol.TypeResume, ID: rid, Positions: pos, From: from,
		Limit: max(c.cfg.SyncLimit, 0), Receipts: true})
	s.resume.id, s.resume.sent = rid, now
	c.wake(now.Add(c.cfg.SyncTimeout))
}

// resumeID is the id of the n-th resume request: "resume:n", like syncs'.
func resumeID(n int) string { return "resume:" + strconv.Itoa(n) }

// resumed applies a resume answer: each conversation's batch (a
// conversation new to the client is tracked from 0), the conversations the
// user is no longer in are dropped, and the next page is asked for. A
// late answer to an earlier resume still brings its messages and cursors.
func (c *Client) resumed(f protocol.Frame, now time.Time) {
	s := &c.s
	current := f.ID != "" && f.ID == s.resume.id
	for _, b := range f.Batches {
		if !validID(b.Conversation) {
			continue
		}
		if _, known := s.convs[b.Conversation]; !known && b.Kind != "" {
			// new to this client (started, or joined, while it was away):
			// what a conversation frame would have said
			c.emit(&ConversationChange{ID: b.Conversation, Kind: b.Kind, Rev: b.Rev, Members: b.Members, Title: b.Title, Member: true})
		}
		b.ID, b.End = f.ID, true
		c.batch(b, now)
		// More: a long backlog, or the answer's size ran out before this
		// conversation: sync it now rather than after GapGrace.
		if cv := s.convs[b.Conversation]; b.More && cv != nil && !cv.syncing {
			c.sync(cv, now)
		}
	}
	for _, id := range f.Gone {
		if cv := s.convs[id]; cv != nil {
			delete(s.convs, id) // removed from it: stop syncing it
			c.emit(&Error{Conversation: id, ID: f.ID, Code: protocol.CodeNotMember,
				Err: &protocol.Error{Code: protocol.CodeNotMember, Message: "you are not a member of this conversation", Ref: f.ID}})
		}
	}
	if !current {
		return
	}
	s.resume.id = ""
	c.unresumed(f.ID, now) // anything of the page the answer left out
	if f.Next != "" {
		c.startResume(now, f.Next)
		return
	}
	s.resumeDone = true
}

// resumeFailed falls back to one sync per conversation when the resume
// that is out was refused (an error frame with its id: a connector or
// platform without resume, a revoked device) or never answered.
func (c *Client) resumeFailed(now time.Time) {
	rid := c.s.resume.id
	if rid == "" {
		return
	}
	c.s.resume.id, c.s.resumeDone = "", true
	c.log.Warn("client: resume failed; syncing each conversation", "request", rid)
	c.unresumed(rid, now)
	for _, cv := range c.s.convs {
		if !cv.syncing {
			c.sync(cv, now)
		}
	}
}

// unresumed syncs each conversation still waiting for the resume rid.
func (c *Client) unresumed(rid string, now time.Time) {
	for _, cv := range c.s.convs {
		if cv.syncing && cv.syncID == rid {
			cv.syncing = false
			c.sync(cv, now)
		}
	}
}
