package pipebench

import (
	"context"
	"crypto/rand"
	"fmt"
	"sync"
	"time"

	"github.com/agentchat/agentchat/sdk/e2ee"
	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/store"
	"github.com/agentchat/agentchat/store/messages"
)

// Sizes of a direct message from the load clients: a short text, signed
// and sealed (AES-GCM), its key wrapped for 3 devices (X25519 ephemeral
// key, nonce, a 32-byte key plus its tag).
const (
	ciphertextBytes = 200
	wrappedKeys     = 3
)

func newMessage(conversation string, seq int64) events.Message {
	b := func(n int) []byte {
		p := make([]byte, n)
		rand.Read(p)
		return p
	}
	keys := make([]e2ee.WrappedKey, wrappedKeys)
	for i := range keys {
		keys[i] = e2ee.WrappedKey{Device: fmt.Sprintf("dev-%s-%d", conversation, i), Ephemeral: b(32), Nonce: b(12), Wrapped: b(48)}
	}
	return events.Message{
		ConversationID: conversation, Seq: seq, SenderID: "user-" + conversation, SenderDevice: "dev-" + conversation + "-0",
		ClientMessageID: fmt.Sprintf("m-%s-%d", conversation, seq),
		Envelope:        &e2ee.Envelope{V: 1, Nonce: b(12), Ciphertext: b(ciphertextBytes), Keys: keys},
		StoredAt:        time.Now(),
	}
}

// InsertRate measures the storage's own insert-only rate for the message
// document persist stores — store/messages' Insert, with its unique
// indexes — from writers goroutines, each inserting into its own
// conversation with seqs counting up: total documents in all (after a
// warm-up of 10 per writer), in a database of its own that is dropped at
// the end. It returns documents inserted per second.
func InsertRate(ctx context.Context, uri, database string, writers, total int) (float64, error) {
	m, err := store.OpenMongo(uri, database, "bench-storage")
	if err != nil {
		return 0, fmt.Errorf("pipebench: storage: %w", err)
	}
	defer m.Close(context.WithoutCancel(ctx))
	defer m.DB.Drop(context.WithoutCancel(ctx))
	log, err := messages.NewMongo(ctx, m)
	if err != nil {
		return 0, fmt.Errorf("pipebench: storage: %w", err)
	}
	if err := log.EnsureIndexes(ctx); err != nil {
		return 0, fmt.Errorf("pipebench: storage: %w", err)
	}
	const warmup = 10
	insert := func(w, from, n int) error {
		conv := fmt.Sprintf("c%d", w)
		for seq := from; seq < from+n; seq++ {
			if err := log.Insert(ctx, newMessage(conv, int64(seq))); err != nil {
				return fmt.Errorf("pipebench: storage: %w", err)
			}
		}
		return nil
	}
	all := func(n func(w int) int, from int) error {
		errs := make(chan error, writers)
		var wg sync.WaitGroup
		for w := range writers {
			wg.Go(func() { errs <- insert(w, from, n(w)) })
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				return err
			}
		}
		return nil
	}
	if err := all(func(int) int { return warmup }, 1); err != nil {
		return 0, err
	}
	per, extra := total/writers, total%writers
	start := time.Now()
	if err := all(func(w int) int {
		if w < extra {
			return per + 1
		}
		return per
	}, warmup+1); err != nil {
		return 0, err
	}
	return float64(total) / time.Since(start).Seconds(), nil
}
