package function

import (
	"context"
	"encoding/json"
	"errors"
	"slices"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/fn"
	"github.com/agentchat/agentchat/sdk/protocol"
	"github.com/agentchat/agentchat/store"
)

// defaultSyncLimit is the batch size when a sync request names none.
const defaultSyncLimit = protocol.DefaultSyncLimit

// syncBudget caps the messages' JSON in one batch, so that the batch and
// the delivery around it stay under events.MaxDataSize whatever the
// envelopes weigh. A batch always holds at least one message (a stored
// message is far below the cap on its own).
const syncBudget = events.MaxDataSize / 2

// syncMembers is a conversation's members for a sync by user: from the
// cache (kept current by accounts' change events; a group of 1,024 is
// otherwise read whole for every sync of every member), and read afresh
// when the cache does not have user as a member — a refusal never rests on
// the cache, as in persist. A removed member whose change event was lost
// may sync for at most the cache's backstop (MEMBERSHIP_CACHE_TTL, twice
// with refresh ahead); what is sent after a removal is sealed under a
// sender key they never get (docs/e2ee.md). The cache's entry is dropped
// only when the fresh read finds user a member (the cache is behind): a
// non-member's syncs, however many, leave it for the members.
func (d *deps) syncMembers(ctx context.Context, conversation, user string) ([]string, bool, error) {
	if d.audiences != nil {
		m, err := d.audiences.Members(ctx, conversation)
		if err == nil && slices.Contains(m.Members, user) {
			return m.Members, true, nil
		}
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, false, err
		}
	}
	members, found, err := d.dir.Members(ctx, conversation)
	if err == nil && found && d.audiences != nil && slices.Contains(members, user) {
		d.audiences.Forget(conversation) // a member the cache does not know yet
	}
	return members, found, err
}

// maxCursorMembers is the largest conversation whose sync and resume
// answers carry every member's receipt cursor. Above it they carry the
// requesting user's own (what their devices share: unread counts, read
// on another device): each cursor is one storage read, and a group of
// 1,024 made every sync of every member 1,024 reads — bench-fanout's
// storage spent its time there. Ticks in such a group come live from
// receipt frames, as WhatsApp's message info in a big group does not
// come with the chat either.
const maxCursorMembers = 64

// cursorsOf is whose cursors a sync or resume of a conversation with
// members carries for user.
func cursorsOf(members []string, user string) []string {
	if len(members) <= maxCursorMembers {
		return members
	}
	return []string{user}
}

// sync answers a device's request for what it missed: messages after its
// seq, in seq order, at most limit of them and at most syncBudget bytes,
// with More when it should ask again and LastSeq the newest seq. The answer
// is one batch, marked End and carrying the request's id (or one refusal
// with that id). The batch
// goes to the requesting device only, and only if it is online. A device
// of a non-member (or a conversation that does not exist) gets the
// not_member error with no message id, which clients read as "you were
// removed: stop syncing this conversation"; a revoked device (its token
// may still be valid for a while) gets unauthorized.
func (f *Function) sync(ctx context.Context, d *deps, e event.Event, a fn.Actor) error {
	req, err := events.Decode[events.SyncRequested](e)
	if err != nil {
		return fn.Refuse("route: %v", err)
	}
	// Nobody to answer, nothing to read.
	where, err := d.presence.Locate(ctx, []events.DeviceRef{a.DeviceRef()})
	if err != nil || len(where) == 0 {
		return err
	}
	members, found, err := d.syncMembers(ctx, a.Conversation, a.User)
	if err != nil {
		return err
	}
	refuse := func(code, reason string) error {
		rej, err := events.NewMessageRejected(a.Conversation, a.User, a.Device,
			events.MessageRejected{Code: code, Reason: reason, ClientMessageID: req.RequestID})
		if err != nil {
			return err
		}
		return f.publish(ctx, d, rej, where)
	}
	if !found || !slices.Contains(members, a.User) {
		return refuse(protocol.CodeNotMember, "you are not a member of this conversation")
	}
	if current, err := d.dir.DeviceCurrent(ctx, a.User, a.Device); err != nil || !current {
		if err != nil {
			return err
		}
		return refuse(protocol.CodeUnauthorized, "this device has been revoked")
	}
	read := f.readBatch
	if req.Before > 0 {
		read = f.readPage
	}
	batch, err := read(ctx, d.dir, a.Conversation, a.Device, req)
	if err != nil {
		return err
	}
	batch.RequestID, batch.End = req.RequestID, true
	if req.Receipts && !batch.More {
		// Receipt events are published at most once; this is how a device
		// that missed one (a reconnect, a Redis restart) still gets its ticks.
		if batch.Cursors, err = d.dir.Cursors(ctx, a.Conversation, cursorsOf(members, a.User)); err != nil {
			return err
		}
	}
	out, err := events.NewSyncBatch(a.Conversation, a.User, a.Device, batch)
	if err != nil {
		return err
	}
	return f.publish(ctx, d, out, where)
}

// readBatch reads one batch for device: limit+1 messages (the extra one
// tells whether there are more), cut to the limit and to syncBudget.
func (f *Function) readBatch(ctx context.Context, dir directory, conversation, device string, req events.SyncRequested) (events.SyncBatch, error) {
	limit := req.Limit
	if limit == 0 {
		limit = defaultSyncLimit
	}
	limit = min(limit, events.MaxSyncLimit)
	msgs, err := dir.MessagesAfter(ctx, conversation, req.After, limit+1, device)
	if err != nil {
		return events.SyncBatch{}, err
	}
	more := len(msgs) > limit
	msgs = msgs[:min(len(msgs), limit)]
	if n := fitBudget(msgs); n < len(msgs) {
		msgs, more = msgs[:n], true
	}
	b := events.SyncBatch{Messages: msgs, More: more}
	switch {
	case more:
		b.LastSeq, err = dir.LastSeq(ctx, conversation, msgs[len(msgs)-1].Seq, 0)
	case len(msgs) > 0:
		b.LastSeq = msgs[len(msgs)-1].Seq // nothing after it when it was read
	default:
		b.LastSeq, err = dir.LastSeq(ctx, conversation, req.After, req.After+1)
	}
	if b.Messages == nil {
		b.Messages = []events.Message{}
	}
	return b, err
}

// fitBudget returns how many of msgs fit in syncBudget (at least one).
func fitBudget(msgs []events.Message) int {
	total := 0
	for i, m := range msgs {
		raw, _ := json.Marshal(m)
		total += len(raw) + 1
		if total > syncBudget && i > 0 {
			return i
		}
	}
	return len(msgs)
}

// memberships lists the conversations a user is in, for resume. It is an
// interface of its own (the directory implements it) so that resume states
// exactly what it reads.
type memberships interface {
	// ConversationsOf returns up to limit of the conversations user is a
	// member of with an id above after (all, after ""), in id order, each
	// with its members. It reads the stored conversation documents, which
	// may lag a membership change accounts has just logged for a moment.
	ConversationsOf(ctx context.Context, user, after string, limit int) ([]conversationMembers, error)
}

// conversationMembers is one conversation and its members, with what
// names it (kind and title) at membership revision Rev.
type conversationMembers struct {
	ID      string
	Members []string
	Kind    string
	Rev     int64
	Title   string
}

// resume answers a device back after a gap, in one exchange: for every
// conversation of the user in the page the request asks for, what follows
// the seq the device has (from 0 for a conversation it did not name: new
// to it), with the members' cursors if asked — all in one batch within
// syncBudget, each conversation cut to the request's limit; Gone for the
// conversations it named that the user is not in; Next when the page did
// not reach the end. A revoked device gets unauthorized with the request's
// id; an offline one nothing (it resumes again when it is back).
//
// Reads: the user's conversations (one query), then per conversation what
// a sync would read; a conversation past the budget costs one LastSeq.
func (f *Function) resume(ctx context.Context, d *deps, e event.Event, a fn.Actor) error {
	req, err := events.Decode[events.ResumeRequested](e)
	if err != nil {
		return fn.Refuse("route: %v", err)
	}
	where, err := d.presence.Locate(ctx, []events.DeviceRef{a.DeviceRef()})
	if err != nil || len(where) == 0 {
		return err
	}
	answer := func(b events.ResumeBatch) error {
		b.RequestID = req.RequestID
		out, err := events.NewResumeBatch(a.User, a.Device, b)
		if err != nil {
			return err
		}
		return f.publish(ctx, d, out, where)
	}
	if current, err := d.dir.DeviceCurrent(ctx, a.User, a.Device); err != nil || !current {
		if err != nil {
			return err
		}
		return answer(events.ResumeBatch{Code: protocol.CodeUnauthorized, Reason: "this device has been revoked"})
	}
	lister, ok := d.dir.(memberships)
	if !ok {
		f.log.Error("route: the directory cannot list a user's conversations: resume refused")
		return answer(events.ResumeBatch{Code: protocol.CodeInternal, Reason: "resume is not available: sync each conversation"})
	}
	page, err := resumePage(ctx, lister, a.User, req)
	if err != nil {
		return err
	}
	b := events.ResumeBatch{Gone: page.gone, Next: page.next, Conversations: make([]events.ResumedConversation, 0, len(page.convs))}
	budget := syncBudget
	ids := make([]string, 0, len(page.convs))
	for _, c := range page.convs {
		after, named := page.after[c.ID]
		rc, err := f.resumeOne(ctx, d.dir, c, a.User, a.Device, after, req, &budget)
		if err != nil {
			return err
		}
		if !named {
			describe(&rc, c, &budget)
		}
		b.Conversations = append(b.Conversations, rc)
		ids = append(ids, c.ID)
	}
	if err := answer(b); err != nil {
		return err
	}
	// What agents have streamed so far in the page's conversations
	// follows the answer: the rest of those answers comes live.
	return f.replay(ctx, d, where, ids)
}

// resumeOne reads one conversation's part of a resume answer after seq,
// for device, spending budget (bytes of JSON) on its messages and cursors; past the
// budget it holds no message and More if there is any.
func (f *Function) resumeOne(ctx context.Context, dir directory, c conversationMembers, user, device string, after int64, req events.ResumeRequested, budget *int) (events.ResumedConversation, error) {
	rc := events.ResumedConversation{ConversationID: c.ID}
	if *budget <= 0 {
		last, err := dir.LastSeq(ctx, c.ID, after, 0)
		rc.LastSeq, rc.More = last, last > after
		return rc, err
	}
	sb, err := f.readBatch(ctx, dir, c.ID, device, events.SyncRequested{After: after, Limit: req.Limit})
	if err != nil {
		return rc, err
	}
	// At least one message in the whole answer, as in a sync batch.
	n := fitBudgetOf(sb.Messages, *budget, *budget == syncBudget)
	*budget -= jsonSize(sb.Messages[:n])
	rc.Messages, rc.LastSeq, rc.More = sb.Messages[:n], sb.LastSeq, sb.More || n < len(sb.Messages)
	if len(rc.Messages) == 0 {
		rc.Messages = nil
	}
	if req.Receipts && !rc.More {
		cursors, err := dir.Cursors(ctx, c.ID, cursorsOf(c.Members, user))
		if err != nil {
			return rc, err
		}
		if size := jsonSize(cursors); size <= *budget {
			rc.Cursors, *budget = cursors, *budget-size
		} else {
			rc.More = true // the device syncs it with receipts
		}
	}
	return rc, nil
}

// describe names a conversation new to the device in its part of the
// answer (kind, rev, members, title: what a conversation frame carries,
// read with the page at no extra cost), if that fits the budget; if not,
// the device asks accounts.
func describe(rc *events.ResumedConversation, c conversationMembers, budget *int) {
	size := jsonSize(c.Members) + len(c.Title) + len(c.Kind) + 64
	if size > *budget {
		return
	}
	*budget -= size
	rc.Kind, rc.Rev, rc.Members, rc.Title = c.Kind, c.Rev, c.Members, c.Title
}

// page is the part of the user's conversations one resume answer covers.
type page struct {
	convs []conversationMembers // the user's, in id order
	after map[string]int64      // the device's positions
	gone  []string              // positions within the page the user is not in
	next  string                // the page's last id, when more may follow
}

// resumePage works out which conversations one resume answer covers: the
// user's with an id above req.From, at most events.MaxResumeConversations
// of them, and — when the request holds that many positions (the device
// may have more to give) — none above the greatest id it names.
func resumePage(ctx context.Context, lister memberships, user string, req events.ResumeRequested) (page, error) {
	const most = events.MaxResumeConversations
	p := page{after: make(map[string]int64, len(req.Positions))}
	hi := "" // the greatest id named above From
	for _, pos := range req.Positions {
		p.after[pos.ConversationID] = pos.Seq
		if pos.ConversationID > req.From && pos.ConversationID > hi {
			hi = pos.ConversationID
		}
	}
	if len(req.Positions) < most {
		hi = "" // every position the device has is here: no upper bound
	}
	convs, err := lister.ConversationsOf(ctx, user, req.From, most+1)
	if err != nil {
		return p, err
	}
	if hi != "" {
		convs = slices.DeleteFunc(convs, func(c conversationMembers) bool { return c.ID > hi })
		p.next = hi // above From: the next page moves on
	}
	if len(convs) > most {
		convs = convs[:most]
		p.next = convs[most-1].ID
	}
	p.convs = convs
	mine := make(map[string]bool, len(convs))
	for _, c := range convs {
		mine[c.ID] = true
	}
	for _, pos := range req.Positions {
		id := pos.ConversationID
		if id > req.From && (p.next == "" || id <= p.next) && !mine[id] {
			p.gone = append(p.gone, id)
		}
	}
	slices.Sort(p.gone)
	return p, nil
}

// fitBudgetOf returns how many of msgs fit in budget bytes of JSON (with
// atLeastOne, at least one).
func fitBudgetOf(msgs []events.Message, budget int, atLeastOne bool) int {
	total := 0
	for i, m := range msgs {
		raw, _ := json.Marshal(m)
		total += len(raw) + 1
		if total > budget && (i > 0 || !atLeastOne) {
			return i
		}
	}
	return len(msgs)
}

// jsonSize is the length of v's JSON.
func jsonSize(v any) int {
	raw, _ := json.Marshal(v)
	return len(raw)
}
