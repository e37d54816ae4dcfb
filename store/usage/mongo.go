package usage

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/agentchat/agentchat/store"
	"github.com/agentchat/agentchat/store/messages"
)

// Collections (docs/data.md). agent-invoke is their only writer.
//
//	agent_usage         {_id: conversation/seq/agent[/step], conversation, seq, agent, step (absent: 0),
//	                     endpoint, model, promptTokens, completionTokens, reported, at}
//	agent_usage_totals  {_id: <counter>/<n>, counter, n, tokens, total, turn, at}
//	                    entry n of a counter: the n-th turn counted (tokens) and the sum so far (total)
const (
	TurnsCollection  = "agent_usage"
	TotalsCollection = "agent_usage_totals"
)

// maxRaces bounds how many entries of one counter a Record may find
// taken by other writers before it gives up (an error: the caller logs).
const maxRaces = 100

// maxHints bounds the hints kept (one per counter seen).
const maxHints = 10_000

// Mongo is Store on MongoDB or FerretDB.
type Mongo struct {
	turns  *mongo.Collection
	totals *mongo.Collection

	mu    sync.Mutex
	hints map[Counter]int64 // the newest entry this process has seen of each counter
}

var _ Store = (*Mongo)(nil)

// Indexes: Turns' query (on FerretDB it scans regardless).
var Indexes = []mongo.IndexModel{
	{Keys: bson.D{{Key: "conversation", Value: 1}, {Key: "seq", Value: 1}}, Options: options.Index().SetName("conversation_seq")},
}

// NewMongo uses db's usage collections and creates the index of turns.
func NewMongo(ctx context.Context, db *mongo.Database) (*Mongo, error) {
	m := &Mongo{turns: db.Collection(TurnsCollection), totals: db.Collection(TotalsCollection), hints: map[Counter]int64{}}
	if err := store.EnsureIndexes(ctx, m.turns, Indexes); err != nil {
		return nil, fmt.Errorf("usage: %w", err)
	}
	return m, nil
}

type turnDoc struct {
	ID               string    `bson:"_id"`
	Conversation     string    `bson:"conversation"`
	Seq              int64     `bson:"seq"`
	Agent            string    `bson:"agent"`
	Step             int       `bson:"step,omitempty"`
	Endpoint         string    `bson:"endpoint"`
	Model            string    `bson:"model"`
	PromptTokens     int64     `bson:"promptTokens"`
	CompletionTokens int64     `bson:"completionTokens"`
	Reported         bool      `bson:"reported"`
	At               time.Time `bson:"at"`
}

type entryDoc struct {
	ID      string    `bson:"_id"`
	Counter Counter   `bson:"counter"`
	N       int64     `bson:"n"`
	Tokens  int64     `bson:"tokens"` // this turn's
	Total   int64     `bson:"total"`  // entries 1..n
	Turn    string    `bson:"turn"`   // Turn.ID
	At      time.Time `bson:"at"`
}

func entryID(c Counter, n int64) string { return string(c) + "/" + strconv.FormatInt(n, 10) }

func (m *Mongo) Record(ctx context.Context, t Turn, counters ...Counter) error {
	err := m.turns.FindOne(ctx, bson.D{{Key: "_id", Value: t.ID()}}, options.FindOne().SetProjection(bson.D{{Key: "_id", Value: 1}})).Err()
	switch {
	case err == nil:
		return nil // recorded (the turn is inserted last)
	case !errors.Is(err, mongo.ErrNoDocuments):
		return fmt.Errorf("usage: read turn: %w", err)
	}
	at := t.At.UTC()
	if t.Reported && t.Tokens() > 0 {
		for _, c := range counters {
			if err := m.add(ctx, c, t.ID(), t.Tokens(), at); err != nil {
				return err
			}
		}
	}
	_, err = m.turns.InsertOne(ctx, turnDoc{ID: t.ID(), Conversation: t.Conversation, Seq: t.Seq, Agent: t.Agent, Step: t.Step,
		Endpoint: t.Endpoint, Model: t.Model, PromptTokens: t.PromptTokens, CompletionTokens: t.CompletionTokens,
		Reported: t.Reported, At: at})
	if err != nil && !mongo.IsDuplicateKeyError(err) {
		return fmt.Errorf("usage: insert turn: %w", err)
	}
	return nil
}

// add appends turn's tokens to counter c: insert entry last+1; when
// another writer took it, read that entry and try the one after.
func (m *Mongo) add(ctx context.Context, c Counter, turn string, tokens int64, at time.Time) error {
	last, err := m.last(ctx, c)
	if err != nil {
		return err
	}
	for range maxRaces {
		if last.N > 0 && last.Turn == turn {
			return nil // this turn's entry: an earlier insert whose answer was lost
		}
		next := entryDoc{ID: entryID(c, last.N+1), Counter: c, N: last.N + 1, Tokens: tokens, Total: last.Total + tokens, Turn: turn, At: at}
		_, err := m.totals.InsertOne(ctx, next)
		if err == nil {
			m.hint(c, next.N)
			return nil
		}
		if !mongo.IsDuplicateKeyError(err) {
			return fmt.Errorf("usage: add to %s: %w", c, err)
		}
		got, ok, err := m.entry(ctx, c, next.N)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("usage: add to %s: entry %d taken but not found", c, next.N)
		}
		last = got
	}
	return fmt.Errorf("usage: add to %s: %d entries taken by others in a row", c, maxRaces)
}

func (m *Mongo) Total(ctx context.Context, c Counter) (int64, error) {
	last, err := m.last(ctx, c)
	return last.Total, err
}

// last reads counter c's newest entry (N 0: none) with lookups by _id,
// starting from this process's hint (entries are never deleted, so the
// hint still exists): two lookups when nobody else counted since.
func (m *Mongo) last(ctx context.Context, c Counter) (entryDoc, error) {
	m.mu.Lock()
	lo := m.hints[c]
	m.mu.Unlock()
	seen := map[int64]entryDoc{}
	n, err := messages.SearchLastSeq(lo, 0, func(n int64) (bool, error) {
		e, ok, err := m.entry(ctx, c, n)
		if ok {
			seen[n] = e
		}
		return ok, err
	})
	if err != nil || n == 0 {
		return entryDoc{}, err
	}
	e, ok := seen[n]
	if !ok {
		if e, ok, err = m.entry(ctx, c, n); err != nil {
			return entryDoc{}, err
		} else if !ok {
			return entryDoc{}, fmt.Errorf("usage: %s: entry %d not found", c, n)
		}
	}
	m.hint(c, n)
	return e, nil
}

func (m *Mongo) entry(ctx context.Context, c Counter, n int64) (entryDoc, bool, error) {
	var e entryDoc
	err := m.totals.FindOne(ctx, bson.D{{Key: "_id", Value: entryID(c, n)}}).Decode(&e)
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
		return e, false, nil
	case err != nil:
		return e, false, fmt.Errorf("usage: read %s: %w", c, err)
	}
	return e, true, nil
}

func (m *Mongo) hint(c Counter, n int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.hints) >= maxHints {
		clear(m.hints) // hints only save lookups
	}
	m.hints[c] = max(m.hints[c], n)
}

func (m *Mongo) Turns(ctx context.Context, conversation string, limit int) ([]Turn, error) {
	if limit <= 0 {
		return nil, nil // SetLimit(0) would mean no limit
	}
	cur, err := m.turns.Find(ctx, bson.D{{Key: "conversation", Value: conversation}},
		options.Find().SetSort(bson.D{{Key: "seq", Value: 1}, {Key: "agent", Value: 1}, {Key: "step", Value: 1}}).SetLimit(int64(limit)))
	if err != nil {
		return nil, fmt.Errorf("usage: turns: %w", err)
	}
	var docs []turnDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("usage: turns: %w", err)
	}
	out := make([]Turn, len(docs))
	for i, d := range docs {
		out[i] = Turn{Conversation: d.Conversation, Seq: d.Seq, Agent: d.Agent, Step: d.Step, Endpoint: d.Endpoint, Model: d.Model,
			PromptTokens: d.PromptTokens, CompletionTokens: d.CompletionTokens, Reported: d.Reported, At: d.At}
	}
	return out, nil
}
