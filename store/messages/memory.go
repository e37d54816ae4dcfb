package messages

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/agentchat/agentchat/sdk/e2ee"
	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/store"
)

// Memory is the in-memory twin of Mongo: Store and Cursors in one
// process, for tests of the functions that use them. It keeps the same
// promises (checked by the same suite) and hands out copies, never what
// it holds.
type Memory struct {
	mu      sync.Mutex
	convs   map[string]map[int64]events.Message
	keys    map[Key]int64
	cursors map[string]events.Cursor // conversation/user
}

var (
	_ Store   = (*Memory)(nil)
	_ Cursors = (*Memory)(nil)
)

// NewMemory returns an empty twin.
func NewMemory() *Memory {
	return &Memory{convs: map[string]map[int64]events.Message{}, keys: map[Key]int64{}, cursors: map[string]events.Cursor{}}
}

func (s *Memory) Insert(_ context.Context, m events.Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	conv := s.convs[m.ConversationID]
	if _, taken := conv[m.Seq]; taken {
		return fmt.Errorf("messages: insert %s: %w", docID(m.ConversationID, m.Seq), store.ErrDuplicate)
	}
	k := KeyOf(m)
	if _, stored := s.keys[k]; stored {
		return fmt.Errorf("messages: insert %s: %w", docID(m.ConversationID, m.Seq), store.ErrDuplicate)
	}
	if conv == nil {
		conv = map[int64]events.Message{}
		s.convs[m.ConversationID] = conv
	}
	m = clone(m)
	m.Audience = nil
	m.StoredAt = m.StoredAt.UTC().Truncate(time.Millisecond) // BSON dates hold milliseconds
	conv[m.Seq] = m
	s.keys[k] = m.Seq
	return nil
}

func (s *Memory) InsertMany(ctx context.Context, ms []events.Message) (int, error) {
	for i, m := range ms {
		if err := s.Insert(ctx, m); err != nil {
			return i, err
		}
	}
	return len(ms), nil
}

func (s *Memory) At(_ context.Context, conversation string, seq int64, device string) (events.Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.convs[conversation][seq]
	if !ok {
		return events.Message{}, store.ErrNotFound
	}
	return readAs(m, device), nil
}

func (s *Memory) Has(_ context.Context, conversation string, seq int64) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.convs[conversation][seq]
	return ok, nil
}

func (s *Memory) After(_ context.Context, conversation string, after int64, limit int, device string) ([]events.Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var seqs []int64
	for seq := range s.convs[conversation] {
		if seq > after {
			seqs = append(seqs, seq)
		}
	}
	slices.Sort(seqs)
	var out []events.Message
	for _, seq := range seqs[:min(len(seqs), max(limit, 0))] {
		out = append(out, readAs(s.convs[conversation][seq], device))
	}
	return out, nil
}

func (s *Memory) LastSeq(_ context.Context, conversation string, _, _ int64) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	last := int64(0)
	for seq := range s.convs[conversation] {
		last = max(last, seq)
	}
	return last, nil
}

func (s *Memory) ByKey(_ context.Context, k Key, device string) (events.Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	seq, ok := s.keys[k]
	if !ok {
		return events.Message{}, store.ErrNotFound
	}
	return readAs(s.convs[k.Conversation][seq], device), nil
}

func (s *Memory) Advance(_ context.Context, conversation, user string, delivered, read int64) error {
	delivered = max(delivered, read)
	if delivered <= 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	id := conversation + "/" + user
	c := s.cursors[id]
	c.User, c.Delivered, c.Read = user, max(c.Delivered, delivered), max(c.Read, read)
	s.cursors[id] = c
	return nil
}

func (s *Memory) Get(_ context.Context, conversation string, users []string) ([]events.Cursor, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []events.Cursor
	for _, u := range users {
		if c, ok := s.cursors[conversation+"/"+u]; ok {
			out = append(out, c)
		}
	}
	return out, nil
}

// readAs is a copy of m as device reads it (AllDevices): the twin keeps
// every message whole and cuts a distribution's keys on the way out.
func readAs(m events.Message, device string) events.Message {
	m = clone(m)
	if IsDistribution(m) {
		m.Envelope.Keys = keysFor(m.Envelope.Keys, device)
	}
	return m
}

// clone copies m deeply enough that neither side can change the other's.
func clone(m events.Message) events.Message {
	if m.System != nil {
		c := *m.System
		m.System = &c
	}
	if m.Envelope != nil {
		env := *m.Envelope
		env.Nonce = slices.Clone(env.Nonce)
		env.Ciphertext = slices.Clone(env.Ciphertext)
		env.Sig = slices.Clone(env.Sig)
		env.Keys = slices.Clone(env.Keys)
		for i, k := range env.Keys {
			env.Keys[i] = e2ee.WrappedKey{Device: k.Device, Ephemeral: slices.Clone(k.Ephemeral),
				Nonce: slices.Clone(k.Nonce), Wrapped: slices.Clone(k.Wrapped)}
		}
		m.Envelope = &env
	}
	return m
}
