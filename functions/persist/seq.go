package function

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/store"
	"github.com/agentchat/agentchat/store/messages"
)

// Seq allocation under contention: how often to try, and how long to back
// off between tries (full jitter, doubling from seqBackoffBase up to
// seqBackoffMax). After maxSeqAttempts the event fails with 500 and the
// broker's own retry takes over.
const (
	maxSeqAttempts = 40
	seqBackoffBase = 500 * time.Microsecond
	seqBackoffMax  = 20 * time.Millisecond
)

// allocate stores m under its conversation's next seq, together with the
// conversation's other messages queued in this instance meanwhile
// (batches): it returns m as stored, or as stored before if it is a
// resend.
func (f *Function) allocate(ctx context.Context, msgs messages.Store, m events.Message) (events.Message, error) {
	p := f.queue.join(m)
	select {
	case <-p.done: // stored by another request's batch
		return p.out, p.err
	case <-p.lead:
	}
	batch := f.queue.take(m.ConversationID)
	// The batch holds other requests' messages: it is stored even if this
	// request goes away meanwhile, within a deadline of its own.
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), batchTimeout)
	f.storeBatch(bctx, msgs, batch)
	cancel()
	f.queue.handOff(m.ConversationID)
	<-p.done
	return p.out, p.err
}

// batchTimeout bounds storing one batch (a broker's delivery waits 30 s by
// default).
const batchTimeout = 10 * time.Second

// storeBatch stores a conversation's queued messages at last+1, last+2,
// ... in one insert command, and finishes each. The unique indexes are
// the only arbiter (see allocateOne), so seqs stay gapless and unique with
// any number of persist instances: the insert stops at the first message
// refused — a resend, or a seq another instance took — and that message
// and those after it take the single-message path, which tells the two
// apart.
func (f *Function) storeBatch(ctx context.Context, msgs messages.Store, batch []*pending) {
	conv := batch[0].m.ConversationID
	last, known := f.hints.get(conv)
	if !known {
		var err error
		if last, err = f.lastSeq(ctx, msgs, conv, 0); err != nil {
			for _, p := range batch {
				p.finish(p.m, err)
			}
			return
		}
	}
	// BSON dates hold milliseconds: truncate so that the reply to this
	// send and to any resend read back from the store are equal.
	now := time.Now().UTC().Truncate(time.Millisecond)
	ms := make([]events.Message, len(batch))
	for i, p := range batch {
		ms[i] = p.m
		ms[i].Seq, ms[i].StoredAt = last+1+int64(i), now
	}
	n, err := msgs.InsertMany(ctx, ms)
	f.stats.batches.Add(1)
	for i := range n {
		f.hints.raise(conv, ms[i].Seq)
		f.recent.put(messages.KeyOf(ms[i]), ms[i].Seq)
		f.stats.stored.Add(1)
		batch[i].finish(ms[i], nil)
	}
	if n == len(batch) {
		return
	}
	if !errors.Is(err, store.ErrDuplicate) {
		for _, p := range batch[n:] {
			p.finish(p.m, err)
		}
		return
	}
	batch[n].finish(f.allocateOne(ctx, msgs, batch[n].m, ms[n].Seq))
	for _, p := range batch[n+1:] {
		p.finish(f.allocateOne(ctx, msgs, p.m, 0))
	}
}

// allocateOne stores m under its conversation's next seq: insert last+1.
// The unique indexes make the insert the only arbiter, so seqs stay
// gapless and unique with any number of persist instances on a database
// without transactions or atomic updates. last comes from this instance's
// hint when it has one (a seq it saw stored: inserting the one after it
// can never leave a gap) — one insert and nothing else in the common case
// — else from a search. A refused insert is either a resend (answer with
// the stored message) or a lost race for the seq, most likely because
// another instance stored since: the seq refused is then known to exist,
// so the next attempt inserts right after it, and only a second loss
// searches for the last seq (backing off). refused, when above 0, is the
// seq a batch's insert of m was just refused at: the first attempt finds
// out why instead of inserting. The caller holds the conversation's lead
// (batches).
func (f *Function) allocateOne(ctx context.Context, msgs messages.Store, m events.Message, refused int64) (events.Message, error) {
	key := messages.KeyOf(m)
	var err error
	last, known := f.hints.get(m.ConversationID)
	if !known {
		if last, err = f.lastSeq(ctx, msgs, m.ConversationID, 0); err != nil {
			return m, err
		}
	}
	for attempt := 1; ; attempt++ {
		if attempt == 1 && refused > 0 {
			m.Seq, err = refused, store.ErrDuplicate
		} else {
			m.Seq = last + 1
			// BSON dates hold milliseconds: truncate so that the reply to
			// this send and to any resend read back from the store are
			// equal.
			m.StoredAt = time.Now().UTC().Truncate(time.Millisecond)
			err = msgs.Insert(ctx, m)
		}
		if err == nil {
			f.hints.raise(m.ConversationID, m.Seq)
			f.recent.put(key, m.Seq)
			f.stats.stored.Add(1)
			if attempt > 1 {
				f.log.Debug("persist: seq contended", "conversation", m.ConversationID, "seq", m.Seq, "attempts", attempt)
			}
			return m, nil
		}
		if !errors.Is(err, store.ErrDuplicate) {
			return m, err
		}
		if stored, ok, err := f.resolveDuplicate(ctx, msgs, key, m.Seq); err != nil || ok {
			if ok {
				f.stats.resends.Add(1)
				f.recent.put(key, stored.Seq)
			}
			return stored, err
		}
		f.stats.conflicts.Add(1)
		if attempt == maxSeqAttempts {
			f.log.Warn("persist: seq allocation gave up", "conversation", m.ConversationID, "attempts", attempt)
			return m, fmt.Errorf("persist: seq of conversation %s contended %d times", m.ConversationID, attempt)
		}
		if attempt == 1 {
			// Most likely a stale hint, behind by what another instance
			// stored since: m.Seq exists, try the next one at once.
			last = m.Seq
			continue
		}
		// A race with other instances writing now: back off, then search.
		if err := sleep(ctx, backoff(attempt)); err != nil {
			return m, err
		}
		if last, err = f.lastSeq(ctx, msgs, m.ConversationID, m.Seq); err != nil {
			return m, err
		}
	}
}

// resolveDuplicate finds out why inserting the message with key at seq
// was refused, with lookups by _id where possible. ok means it is a
// resend and m is what was stored, whole: it is answered and published
// again (message.stored), so a distribution comes with every device's
// key (messages.AllDevices); !ok means another message took seq.
func (f *Function) resolveDuplicate(ctx context.Context, msgs messages.Store, key messages.Key, seq int64) (m events.Message, ok bool, err error) {
	// Whose message it is needs no key: a distribution that took seq is
	// read whole only when it is this one.
	at, err := msgs.At(ctx, key.Conversation, seq, messages.NoDevice)
	switch {
	case err == nil:
		f.hints.raise(key.Conversation, seq)
		// Taken by this very message (a concurrent delivery of it), or by
		// another one: a lost race, unless this message is also stored
		// at an earlier seq, which the next attempt will find out.
		if messages.KeyOf(at) != key {
			return at, false, nil
		}
		if messages.IsDistribution(at) {
			at, err = msgs.At(ctx, key.Conversation, seq, messages.AllDevices)
		}
		return at, err == nil, err
	case !errors.Is(err, store.ErrNotFound):
		return at, false, err
	}
	// The seq is free, so the idempotency index refused: a resend of a
	// message stored earlier. This is the one scan on FerretDB.
	m, err = msgs.ByKey(ctx, key, messages.AllDevices)
	if errors.Is(err, store.ErrNotFound) {
		// Neither the seq nor the key is stored, yet the insert was
		// refused: nothing here can explain it (messages are never
		// deleted). Fail, and let the broker retry.
		return m, false, fmt.Errorf("persist: insert of %s/%d refused, but neither the seq nor the key is stored", key.Conversation, seq)
	}
	return m, err == nil, err
}

// lastSeq finds a conversation's highest seq from the highest seq this
// instance has seen there or known (a lookup by _id when that is still
// the last, on FerretDB; one query on MongoDB).
func (f *Function) lastSeq(ctx context.Context, msgs messages.Store, conversation string, known int64) (int64, error) {
	hint, _ := f.hints.get(conversation)
	f.stats.probes.Add(1)
	last, err := msgs.LastSeq(ctx, conversation, max(hint, known), 0)
	if err != nil {
		return 0, err
	}
	f.hints.raise(conversation, last)
	return last, nil
}

// seqHints remembers, per conversation, the highest seq this instance has
// seen stored. It is only a starting point for lastSeq (a stale one costs
// a few lookups, never a wrong seq), so it is safe to keep: it says
// nothing about who may read a conversation. It is bounded by dropping
// everything when full.
type seqHints struct {
	mu sync.Mutex
	m  map[string]int64
}

const maxSeqHints = 100_000

// get returns the hint; ok is false when this instance knows nothing of
// the conversation.
func (h *seqHints) get(conversation string) (seq int64, ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	seq, ok = h.m[conversation]
	return seq, ok
}

func (h *seqHints) raise(conversation string, seq int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.m == nil || len(h.m) >= maxSeqHints {
		h.m = make(map[string]int64)
	}
	if seq > h.m[conversation] {
		h.m[conversation] = seq
	}
}

// backoff is a random wait in [0, min(base*2^attempt, max)).
func backoff(attempt int) time.Duration {
	ceil := seqBackoffMax
	if attempt < 16 && seqBackoffBase<<attempt < ceil {
		ceil = seqBackoffBase << attempt
	}
	return rand.N(ceil)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
