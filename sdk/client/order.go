package client

// order puts one conversation's messages in seq order and drops duplicates.
// It is pure bookkeeping (no I/O, no clock), so the rules are table-tested
// on their own:
//
//   - seq <= last, or a seq already buffered: a duplicate, dropped;
//   - seq == last+1: ready, together with every buffered seq that now follows;
//   - seq > last+1: buffered until the gap is filled (by a sync), at most
//     maxPending of them (the sync brings the rest again).
//
// last is the highest seq handed to the application, so a sync asks for
// "after last".
type order[T any] struct {
	last    int64
	pending map[int64]T
}

// maxPending bounds the out-of-order buffer of one conversation.
const maxPending = 4096

func newOrder[T any](last int64) *order[T] {
	return &order[T]{last: last}
}

// offer takes the message with seq and returns what is now ready, in seq
// order, and whether the message was new (not a duplicate).
func (o *order[T]) offer(seq int64, v T) (ready []T, fresh bool) {
	switch {
	case seq <= o.last:
		return nil, false
	case seq > o.last+1:
		if _, dup := o.pending[seq]; dup {
			return nil, false
		}
		if len(o.pending) >= maxPending {
			return nil, true
		}
		if o.pending == nil {
			o.pending = make(map[int64]T)
		}
		o.pending[seq] = v
		return nil, true
	}
	ready = append(ready, v)
	o.last = seq
	for {
		next, ok := o.pending[o.last+1]
		if !ok {
			break
		}
		delete(o.pending, o.last+1)
		ready = append(ready, next)
		o.last++
	}
	return ready, true
}

// gap reports whether messages after last are known to exist but missing:
// something is buffered, or seen (a stored seq, a receipt, a batch's
// lastSeq) is beyond last.
func (o *order[T]) gap(seen int64) bool {
	return len(o.pending) > 0 || seen > o.last
}

// hole is how many seqs after last are missing before the first one
// buffered (or, with nothing buffered, up to seen); 0 when none is known
// missing. A sync for a gap needs only that many.
func (o *order[T]) hole(seen int64) int64 {
	if len(o.pending) == 0 {
		return max(0, seen-o.last)
	}
	first := int64(-1)
	for s := range o.pending {
		if first < 0 || s < first {
			first = s
		}
	}
	return first - o.last - 1
}

// skipTo moves last forward to seq (the application already has everything
// up to it), dropping what is buffered up to there, and returns what is
// ready after it.
func (o *order[T]) skipTo(seq int64) (ready []T) {
	if seq <= o.last {
		return nil
	}
	o.last = seq
	for s := range o.pending {
		if s <= seq {
			delete(o.pending, s)
		}
	}
	for {
		next, ok := o.pending[o.last+1]
		if !ok {
			return ready
		}
		delete(o.pending, o.last+1)
		ready = append(ready, next)
		o.last++
	}
}
