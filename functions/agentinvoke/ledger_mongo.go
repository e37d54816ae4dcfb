package function

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/agentchat/agentchat/sdk/e2ee"
	"github.com/agentchat/agentchat/sdk/events"
)

// Collections agent-invoke owns (docs/agents.md):
//
//	agent_calls       {_id: conversation/seq/agent, conversation, seq, agent, state, createdAt, finishedAt?,
//	                   invoke: the invoke's data (JSON: the message and its audience, ciphertext and public keys only)}
//	agent_call_steps  {_id: <call>/attempt/<n>, call, n, owner, leaseUntil, at}
//	                  {_id: <call>/sent, call, attempt, at}
//	                  {_id: <call>/completion, call, attempt, completion, endpoint, at}
//	                  {_id: <call>/outcome, call, attempt, state, code?, message?, retryable?, envelope?, at}
//	                  {_id: <call>/step/<s>/sent, call, attempt, at}             (s ≥ 1: request s of a call with tools)
//	                  {_id: <call>/step/<s>/tools, call, step, attempt, sealed, at} (request s ended in tool calls)
//	                  {_id: <call>/tool/<callId>, call, callId, sealed, at}      (a tool call's result)
//	                  {_id: <call>/tool/<callId>/started, call, attempt, at}    (an MCP tool call about to run)
const (
	collCalls = "agent_calls"
	collSteps = "agent_call_steps"
)

// maxAttempts bounds how far State looks for attempts.
const maxAttempts = 100

type mongoLedger struct {
	calls *mongo.Collection
	steps *mongo.Collection
}

var _ ledger = (*mongoLedger)(nil)

func newMongoLedger(ctx context.Context, db *mongo.Database) (*mongoLedger, error) {
	l := &mongoLedger{calls: db.Collection(collCalls), steps: db.Collection(collSteps)}
	// Open's query; on MongoDB it uses this index, on FerretDB it scans.
	err := ensureIndex(ctx, l.calls, "state_createdAt", bson.D{{Key: "state", Value: 1}, {Key: "createdAt", Value: 1}})
	return l, err
}

type callDoc struct {
	ID           string     `bson:"_id"`
	Conversation string     `bson:"conversation"`
	Seq          int64      `bson:"seq"`
	Agent        string     `bson:"agent"`
	State        string     `bson:"state"`
	CreatedAt    time.Time  `bson:"createdAt"`
	FinishedAt   *time.Time `bson:"finishedAt,omitempty"`
	Invoke       []byte     `bson:"invoke,omitempty"`
}

// withoutInvoke leaves the invoke (the largest field) out of reads that
// do not need it.
var withoutInvoke = bson.D{{Key: "invoke", Value: 0}}

type attemptDoc struct {
	ID         string    `bson:"_id"`
	Call       string    `bson:"call"`
	N          int       `bson:"n"`
	Owner      string    `bson:"owner"`
	LeaseUntil time.Time `bson:"leaseUntil"`
	At         time.Time `bson:"at"`
}

type sentDoc struct {
	ID      string    `bson:"_id"`
	Call    string    `bson:"call"`
	Attempt int       `bson:"attempt"`
	At      time.Time `bson:"at"`
}

type completionDoc struct {
	ID         string    `bson:"_id"`
	Call       string    `bson:"call"`
	Attempt    int       `bson:"attempt"`
	Completion string    `bson:"completion"`
	Endpoint   string    `bson:"endpoint"` // base URL
	At         time.Time `bson:"at"`
}

type outcomeDoc struct {
	ID        string         `bson:"_id"`
	Call      string         `bson:"call"`
	Attempt   int            `bson:"attempt"`
	State     string         `bson:"state"`
	Code      string         `bson:"code,omitempty"`
	Message   string         `bson:"message,omitempty"`
	Retryable bool           `bson:"retryable,omitempty"`
	Envelope  *e2ee.Envelope `bson:"envelope,omitempty"`
	At        time.Time      `bson:"at"`
}

type stepDoc struct {
	ID      string    `bson:"_id"`
	Call    string    `bson:"call"`
	Step    int       `bson:"step"`
	Attempt int       `bson:"attempt"`
	Sealed  []byte    `bson:"sealed"`
	At      time.Time `bson:"at"`
}

type toolResultDoc struct {
	ID     string    `bson:"_id"`
	Call   string    `bson:"call"`
	CallID string    `bson:"callId"`
	Sealed []byte    `bson:"sealed"`
	At     time.Time `bson:"at"`
}

func attemptID(k callKey, n int) string { return k.id() + "/attempt/" + strconv.Itoa(n) }

func stepSentID(k callKey, s int) string  { return k.id() + "/step/" + strconv.Itoa(s) + "/sent" }
func stepToolsID(k callKey, s int) string { return k.id() + "/step/" + strconv.Itoa(s) + "/tools" }
func toolResultID(k callKey, callID string) string {
	return k.id() + "/tool/" + callID
}

func (l *mongoLedger) Claim(ctx context.Context, k callKey, inv events.AgentInvoke, owner string, leaseUntil time.Time) (bool, error) {
	now := time.Now().UTC()
	raw, err := json.Marshal(inv)
	if err != nil {
		return false, fmt.Errorf("agent-invoke: ledger: claim: %w", err)
	}
	_, err = l.calls.InsertOne(ctx, callDoc{ID: k.id(), Conversation: k.Conversation, Seq: k.Seq, Agent: k.Agent,
		State: stateOpen, CreatedAt: now, Invoke: raw})
	switch {
	case mongo.IsDuplicateKeyError(err):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("agent-invoke: ledger: claim: %w", err)
	}
	// The call is ours. Were this insert lost to a crash, the call would
	// have no attempt, which State reports as attempt 0 with no lease: the
	// next sweep takes it over at once.
	if _, err := l.TakeOver(ctx, k, 1, owner, leaseUntil); err != nil {
		return false, err
	}
	return true, nil
}

func (l *mongoLedger) Invoke(ctx context.Context, k callKey) (events.AgentInvoke, bool, error) {
	var c callDoc
	err := l.calls.FindOne(ctx, bson.D{{Key: "_id", Value: k.id()}},
		options.FindOne().SetProjection(bson.D{{Key: "invoke", Value: 1}})).Decode(&c)
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
		return events.AgentInvoke{}, false, nil
	case err != nil:
		return events.AgentInvoke{}, false, fmt.Errorf("agent-invoke: ledger: read invoke: %w", err)
	}
	var inv events.AgentInvoke
	if err := json.Unmarshal(c.Invoke, &inv); err != nil {
		return inv, false, fmt.Errorf("agent-invoke: ledger: the call's invoke does not decode: %w", err)
	}
	return inv, true, nil
}

func (l *mongoLedger) TakeOver(ctx context.Context, k callKey, n int, owner string, leaseUntil time.Time) (bool, error) {
	_, err := l.steps.InsertOne(ctx, attemptDoc{ID: attemptID(k, n), Call: k.id(), N: n, Owner: owner,
		LeaseUntil: leaseUntil.UTC(), At: time.Now().UTC()})
	switch {
	case mongo.IsDuplicateKeyError(err):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("agent-invoke: ledger: attempt %d: %w", n, err)
	}
	return true, nil
}

func (l *mongoLedger) Renew(ctx context.Context, k callKey, n int, owner string, leaseUntil time.Time) error {
	_, err := l.steps.UpdateOne(ctx, bson.D{{Key: "_id", Value: attemptID(k, n)}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "leaseUntil", Value: leaseUntil.UTC()}}}})
	if err != nil {
		return fmt.Errorf("agent-invoke: ledger: renew: %w", err)
	}
	return nil
}

func (l *mongoLedger) MarkSent(ctx context.Context, k callKey, n int) (bool, error) {
	_, err := l.steps.InsertOne(ctx, sentDoc{ID: k.id() + "/sent", Call: k.id(), Attempt: n, At: time.Now().UTC()})
	switch {
	case mongo.IsDuplicateKeyError(err):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("agent-invoke: ledger: mark sent: %w", err)
	}
	return true, nil
}

func (l *mongoLedger) MarkStarted(ctx context.Context, k callKey, n int, completion, endpoint string) error {
	_, err := l.steps.InsertOne(ctx, completionDoc{ID: k.id() + "/completion", Call: k.id(), Attempt: n,
		Completion: completion, Endpoint: endpoint, At: time.Now().UTC()})
	if err != nil && !mongo.IsDuplicateKeyError(err) {
		return fmt.Errorf("agent-invoke: ledger: mark started: %w", err)
	}
	return nil
}

func (l *mongoLedger) Decide(ctx context.Context, k callKey, o outcome) (outcome, bool, error) {
	_, err := l.steps.InsertOne(ctx, outcomeDoc{ID: k.id() + "/outcome", Call: k.id(), Attempt: o.Attempt,
		State: o.State, Code: o.Code, Message: o.Message, Retryable: o.Retryable, Envelope: o.Envelope,
		At: time.Now().UTC()})
	switch {
	case err == nil:
		return o, true, nil
	case !mongo.IsDuplicateKeyError(err):
		return o, false, fmt.Errorf("agent-invoke: ledger: decide: %w", err)
	}
	held, err := l.outcome(ctx, k)
	if err != nil {
		return o, false, err
	}
	if held == nil {
		return o, false, fmt.Errorf("agent-invoke: ledger: decide: duplicate outcome not found")
	}
	return *held, false, nil
}

func (l *mongoLedger) outcome(ctx context.Context, k callKey) (*outcome, error) {
	var d outcomeDoc
	err := l.steps.FindOne(ctx, bson.D{{Key: "_id", Value: k.id() + "/outcome"}}).Decode(&d)
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("agent-invoke: ledger: read outcome: %w", err)
	}
	return &outcome{State: d.State, Code: d.Code, Message: d.Message, Retryable: d.Retryable,
		Envelope: d.Envelope, Attempt: d.Attempt}, nil
}

func (l *mongoLedger) Finish(ctx context.Context, k callKey, state string) error {
	_, err := l.calls.UpdateOne(ctx, bson.D{{Key: "_id", Value: k.id()}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "state", Value: state}, {Key: "finishedAt", Value: time.Now().UTC()}}}})
	if err != nil {
		return fmt.Errorf("agent-invoke: ledger: finish: %w", err)
	}
	return nil
}

// State costs one lookup by _id per document: the call, each attempt up
// to the first missing one, the sent marker, the completion id (when
// sent) and the outcome.
func (l *mongoLedger) State(ctx context.Context, k callKey) (callState, error) {
	var st callState
	var c callDoc
	err := l.calls.FindOne(ctx, bson.D{{Key: "_id", Value: k.id()}}, options.FindOne().SetProjection(withoutInvoke)).Decode(&c)
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
		return st, nil
	case err != nil:
		return st, fmt.Errorf("agent-invoke: ledger: read call: %w", err)
	}
	st.Exists, st.Finished = true, c.State != stateOpen
	for n := 1; n <= maxAttempts; n++ {
		var a attemptDoc
		err := l.steps.FindOne(ctx, bson.D{{Key: "_id", Value: attemptID(k, n)}}).Decode(&a)
		if errors.Is(err, mongo.ErrNoDocuments) {
			break
		}
		if err != nil {
			return st, fmt.Errorf("agent-invoke: ledger: read attempt: %w", err)
		}
		st.Latest = attempt{N: a.N, Owner: a.Owner, LeaseUntil: a.LeaseUntil}
		if a.LeaseUntil.After(st.LeaseUntil) {
			st.LeaseUntil = a.LeaseUntil
		}
	}
	err = l.steps.FindOne(ctx, bson.D{{Key: "_id", Value: k.id() + "/sent"}},
		options.FindOne().SetProjection(bson.D{{Key: "_id", Value: 1}})).Err()
	switch {
	case err == nil:
		st.Sent = true
	case !errors.Is(err, mongo.ErrNoDocuments):
		return st, fmt.Errorf("agent-invoke: ledger: read sent: %w", err)
	}
	if st.Sent {
		var c completionDoc
		err = l.steps.FindOne(ctx, bson.D{{Key: "_id", Value: k.id() + "/completion"}}).Decode(&c)
		switch {
		case err == nil:
			st.Completion, st.Endpoint = c.Completion, c.Endpoint
		case !errors.Is(err, mongo.ErrNoDocuments):
			return st, fmt.Errorf("agent-invoke: ledger: read completion: %w", err)
		}
	}
	if st.Outcome, err = l.outcome(ctx, k); err != nil || !st.Sent {
		return st, err
	}
	for s := 0; s < maxAttempts; s++ {
		var d stepDoc
		err := l.steps.FindOne(ctx, bson.D{{Key: "_id", Value: stepToolsID(k, s)}}).Decode(&d)
		if errors.Is(err, mongo.ErrNoDocuments) {
			break
		}
		if err != nil {
			return st, fmt.Errorf("agent-invoke: ledger: read step: %w", err)
		}
		st.Steps = append(st.Steps, toolStep{Step: d.Step, Attempt: d.Attempt, Sealed: d.Sealed})
	}
	for s := 1; s <= len(st.Steps); s++ {
		err := l.steps.FindOne(ctx, bson.D{{Key: "_id", Value: stepSentID(k, s)}},
			options.FindOne().SetProjection(bson.D{{Key: "_id", Value: 1}})).Err()
		if errors.Is(err, mongo.ErrNoDocuments) {
			break
		}
		if err != nil {
			return st, fmt.Errorf("agent-invoke: ledger: read step sent: %w", err)
		}
		st.StepSent = s
	}
	return st, nil
}

func (l *mongoLedger) MarkStepSent(ctx context.Context, k callKey, step, n int) (bool, error) {
	_, err := l.steps.InsertOne(ctx, sentDoc{ID: stepSentID(k, step), Call: k.id(), Attempt: n, At: time.Now().UTC()})
	switch {
	case mongo.IsDuplicateKeyError(err):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("agent-invoke: ledger: mark step %d sent: %w", step, err)
	}
	return true, nil
}

func (l *mongoLedger) RecordStep(ctx context.Context, k callKey, s toolStep) (toolStep, error) {
	_, err := l.steps.InsertOne(ctx, stepDoc{ID: stepToolsID(k, s.Step), Call: k.id(), Step: s.Step, Attempt: s.Attempt,
		Sealed: s.Sealed, At: time.Now().UTC()})
	switch {
	case err == nil:
		return s, nil
	case !mongo.IsDuplicateKeyError(err):
		return s, fmt.Errorf("agent-invoke: ledger: record step %d: %w", s.Step, err)
	}
	var d stepDoc
	if err := l.steps.FindOne(ctx, bson.D{{Key: "_id", Value: stepToolsID(k, s.Step)}}).Decode(&d); err != nil {
		return s, fmt.Errorf("agent-invoke: ledger: read step %d: %w", s.Step, err)
	}
	return toolStep{Step: d.Step, Attempt: d.Attempt, Sealed: d.Sealed}, nil
}

func (l *mongoLedger) RecordToolResult(ctx context.Context, k callKey, r toolResult) (toolResult, error) {
	_, err := l.steps.InsertOne(ctx, toolResultDoc{ID: toolResultID(k, r.CallID), Call: k.id(), CallID: r.CallID,
		Sealed: r.Sealed, At: time.Now().UTC()})
	switch {
	case err == nil:
		return r, nil
	case !mongo.IsDuplicateKeyError(err):
		return r, fmt.Errorf("agent-invoke: ledger: record tool result: %w", err)
	}
	held, ok, err := l.ToolResult(ctx, k, r.CallID)
	if err == nil && !ok {
		err = fmt.Errorf("agent-invoke: ledger: record tool result: duplicate not found")
	}
	return held, err
}

func (l *mongoLedger) MarkToolStarted(ctx context.Context, k callKey, callID string) (bool, error) {
	_, err := l.steps.InsertOne(ctx, sentDoc{ID: toolResultID(k, callID) + "/started", Call: k.id(), At: time.Now().UTC()})
	switch {
	case mongo.IsDuplicateKeyError(err):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("agent-invoke: ledger: mark tool started: %w", err)
	}
	return true, nil
}

func (l *mongoLedger) ToolResult(ctx context.Context, k callKey, callID string) (toolResult, bool, error) {
	var d toolResultDoc
	err := l.steps.FindOne(ctx, bson.D{{Key: "_id", Value: toolResultID(k, callID)}}).Decode(&d)
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
		return toolResult{}, false, nil
	case err != nil:
		return toolResult{}, false, fmt.Errorf("agent-invoke: ledger: read tool result: %w", err)
	}
	return toolResult{CallID: d.CallID, Sealed: d.Sealed}, true, nil
}

func (l *mongoLedger) Open(ctx context.Context, limit int) ([]callKey, error) {
	cur, err := l.calls.Find(ctx, bson.D{{Key: "state", Value: stateOpen}},
		options.Find().SetSort(bson.D{{Key: "createdAt", Value: 1}}).SetLimit(int64(limit)).
			SetProjection(bson.D{{Key: "conversation", Value: 1}, {Key: "seq", Value: 1}, {Key: "agent", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("agent-invoke: ledger: open calls: %w", err)
	}
	var docs []callDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("agent-invoke: ledger: open calls: %w", err)
	}
	keys := make([]callKey, len(docs))
	for i, d := range docs {
		keys[i] = callKey{Conversation: d.Conversation, Seq: d.Seq, Agent: d.Agent}
	}
	return keys, nil
}

// ensureIndex creates the index name on keys unless an index of its name exists. It lists
// first because FerretDB 1.24 drops the connection when asked to create an
// index that exists; a create lost to another instance starting at the
// same moment is not an error once the index is there.
func ensureIndex(ctx context.Context, c *mongo.Collection, name string, keys bson.D) error {
	has := func() (bool, error) {
		specs, err := c.Indexes().ListSpecifications(ctx)
		if err != nil {
			return false, err
		}
		for _, s := range specs {
			if s.Name == name {
				return true, nil
			}
		}
		return false, nil
	}
	if ok, err := has(); err != nil || ok {
		if err != nil {
			return fmt.Errorf("agent-invoke: list indexes of %s: %w", c.Name(), err)
		}
		return nil
	}
	ix := mongo.IndexModel{Keys: keys, Options: options.Index().SetName(name)}
	if _, err := c.Indexes().CreateOne(ctx, ix); err != nil {
		if ok, _ := has(); ok {
			return nil
		}
		return fmt.Errorf("agent-invoke: create index %s: %w", name, err)
	}
	return nil
}
