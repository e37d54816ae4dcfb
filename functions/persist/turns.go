package function

import (
	"context"
	"hash/maphash"
)

// turns lets one goroutine per conversation (per stripe of conversations)
// allocate a seq at a time inside this instance. It is not needed for
// correctness (the unique indexes are), but goroutines of one instance
// racing for the same seq would each lose and retry (measured on FerretDB
// before turns: 8 goroutines on one conversation stored 11 messages/s, one
// goroutine 83/s), and the seq hint would go stale. With turns, contention
// is at most one writer per instance. Each stripe is a channel so that
// waiting honours ctx.
type turns struct {
	seed    maphash.Seed
	stripes [256]chan struct{}
}

func newTurns() *turns {
	t := &turns{seed: maphash.MakeSeed()}
	for i := range t.stripes {
		t.stripes[i] = make(chan struct{}, 1)
	}
	return t
}

// take waits for conversation's turn; call the returned func to end it.
func (t *turns) take(ctx context.Context, conversation string) (func(), error) {
	ch := t.stripes[maphash.String(t.seed, conversation)%uint64(len(t.stripes))]
	select {
	case ch <- struct{}{}:
		return func() { <-ch }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
