package function

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/agentchat/agentchat/sdk/e2ee"
	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/fn/fntest"
)

// testDB returns a private database on the test MongoDB (FerretDB),
// dropped when the test ends; it skips without AGENTCHAT_TEST_MONGODB_URI
// (fails under CI=true).
func testDB(t *testing.T) (*mongo.Client, *mongo.Database) {
	t.Helper()
	uri := fntest.Need(t, "AGENTCHAT_TEST_MONGODB_URI")
	c, err := mongo.Connect(options.Client().ApplyURI(uri))
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 6)
	rand.Read(b)
	db := c.Database("agentinvoke_" + hex.EncodeToString(b))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		db.Drop(ctx)
		c.Disconnect(ctx)
	})
	return c, db
}

// TestLedger runs one contract against the in-memory twin and MongoDB.
func TestLedger(t *testing.T) {
	t.Run("memory", func(t *testing.T) { ledgerSuite(t, func() ledger { return newMemLedger() }) })
	t.Run("mongo", func(t *testing.T) {
		_, db := testDB(t)
		l, err := newMongoLedger(context.Background(), db)
		if err != nil {
			t.Fatal(err)
		}
		ledgerSuite(t, func() ledger { return l })
	})
}

func ledgerSuite(t *testing.T, newLedger func() ledger) {
	ctx := context.Background()
	l := newLedger()
	k := callKey{Conversation: "c-" + t.Name()[len(t.Name())-5:], Seq: 7, Agent: "bot"}
	soon := time.Now().Add(time.Minute)

	// Concurrent claims (redeliveries racing): exactly one wins.
	var wins atomic.Int32
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			ok, err := l.Claim(ctx, k, invokeOf(k), "owner-"+seqOf(int64(i)), soon)
			if err != nil {
				t.Error(err)
			}
			if ok {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if got := wins.Load(); got != 1 {
		t.Fatalf("claims won = %d, want 1", got)
	}
	// The invoke the call was claimed with is kept for takeovers.
	inv, ok, err := l.Invoke(ctx, k)
	if err != nil || !ok || inv.AgentID != "bot" || inv.Message.Seq != k.Seq || inv.Message.Audience == nil ||
		len(inv.Message.Audience.Devices) != 1 || inv.Message.Audience.Keys["d1"] != "a2V5" || len(inv.Message.Envelope.Keys) != 1 {
		t.Errorf("invoke = %+v %v %v", inv, ok, err)
	}
	if _, ok, err := l.Invoke(ctx, callKey{Conversation: "nope", Seq: 1, Agent: "bot"}); ok || err != nil {
		t.Errorf("invoke of an unknown call: %v %v", ok, err)
	}
	st, err := l.State(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Exists || st.Finished || st.Latest.N != 1 || st.Sent || st.Outcome != nil || !st.LeaseUntil.After(time.Now()) {
		t.Errorf("state after claim = %+v", st)
	}

	// Takeover of attempt 2: one winner among racers.
	wins.Store(0)
	for range 8 {
		wg.Go(func() {
			if ok, err := l.TakeOver(ctx, k, 2, "taker", time.Now()); err != nil {
				t.Error(err)
			} else if ok {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if got := wins.Load(); got != 1 {
		t.Errorf("takeovers won = %d, want 1", got)
	}
	// The lease is the latest of any attempt: attempt 1's minute, although
	// attempt 2 (the newest) has none left.
	st, _ = l.State(ctx, k)
	if st.Latest.N != 2 || st.Latest.Owner != "taker" || !st.LeaseUntil.After(time.Now().Add(30*time.Second)) {
		t.Errorf("state after takeover = %+v", st)
	}
	// Renewing moves only that attempt's lease.
	if err := l.Renew(ctx, k, 1, "owner", time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if st, _ = l.State(ctx, k); st.LeaseUntil.After(time.Now()) {
		t.Errorf("lease after both ran out = %v, want past", st.LeaseUntil)
	}

	// The sent marker: once.
	wins.Store(0)
	for i := range 8 {
		wg.Go(func() {
			if ok, err := l.MarkSent(ctx, k, 1+i%2); err != nil {
				t.Error(err)
			} else if ok {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if got := wins.Load(); got != 1 {
		t.Errorf("sent markers inserted = %d, want 1", got)
	}

	// The completion id: the first recorded holds.
	if err := l.MarkStarted(ctx, k, 1, "chatcmpl-a", "http://second/v1"); err != nil {
		t.Fatal(err)
	}
	if err := l.MarkStarted(ctx, k, 2, "chatcmpl-b", "http://first/v1"); err != nil {
		t.Fatal(err)
	}
	if st, _ = l.State(ctx, k); st.Completion != "chatcmpl-a" || st.Endpoint != "http://second/v1" {
		t.Errorf("completion = %q at %q, want the first one recorded", st.Completion, st.Endpoint)
	}

	// Tool steps: request 0 ended in tool calls; the first record holds
	// (a takeover that asked again would run the first calls).
	if st, _ = l.State(ctx, k); len(st.Steps) != 0 || st.StepSent != 0 {
		t.Errorf("steps before any = %+v %d", st.Steps, st.StepSent)
	}
	held0, err := l.RecordStep(ctx, k, toolStep{Step: 0, Attempt: 1, Sealed: []byte("calls-a")})
	if err != nil || string(held0.Sealed) != "calls-a" {
		t.Fatalf("record step 0 = %+v %v", held0, err)
	}
	if held0, err = l.RecordStep(ctx, k, toolStep{Step: 0, Attempt: 2, Sealed: []byte("calls-b")}); err != nil ||
		string(held0.Sealed) != "calls-a" || held0.Attempt != 1 {
		t.Errorf("record step 0 again = %+v %v, want the first", held0, err)
	}
	// Each tool call's result: concurrent records (the tool's reply and
	// the timeout's error racing), one holds and all get it back.
	var firsts sync.Map
	for i := range 8 {
		wg.Go(func() {
			r, err := l.RecordToolResult(ctx, k, toolResult{CallID: "tc-1", Sealed: []byte("result-" + seqOf(int64(i)))})
			if err != nil {
				t.Error(err)
			}
			firsts.Store(string(r.Sealed), true)
		})
	}
	wg.Wait()
	n := 0
	firsts.Range(func(any, any) bool { n++; return true })
	if n != 1 {
		t.Errorf("tool results held = %d different, want 1", n)
	}
	if r, ok, err := l.ToolResult(ctx, k, "tc-1"); !ok || err != nil || r.CallID != "tc-1" || len(r.Sealed) == 0 {
		t.Errorf("tool result = %+v %v %v", r, ok, err)
	}
	if _, ok, err := l.ToolResult(ctx, k, "tc-2"); ok || err != nil {
		t.Errorf("a missing tool result: %v %v", ok, err)
	}
	// An MCP tool call's started marker: once.
	wins.Store(0)
	for range 4 {
		wg.Go(func() {
			if ok, err := l.MarkToolStarted(ctx, k, "tc-3"); err != nil {
				t.Error(err)
			} else if ok {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if got := wins.Load(); got != 1 {
		t.Errorf("tool started markers inserted = %d, want 1", got)
	}
	// Request 1's marker: once; then request 1 too ended in tool calls.
	wins.Store(0)
	for range 4 {
		wg.Go(func() {
			if ok, err := l.MarkStepSent(ctx, k, 1, 2); err != nil {
				t.Error(err)
			} else if ok {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if got := wins.Load(); got != 1 {
		t.Errorf("step 1 sent markers inserted = %d, want 1", got)
	}
	if st, _ = l.State(ctx, k); len(st.Steps) != 1 || st.StepSent != 1 {
		t.Errorf("after step 1 sent: steps %d, step sent %d; want 1, 1 (its request may be in flight)", len(st.Steps), st.StepSent)
	}
	if _, err := l.RecordStep(ctx, k, toolStep{Step: 1, Attempt: 2, Sealed: []byte("calls-c")}); err != nil {
		t.Fatal(err)
	}
	if st, _ = l.State(ctx, k); len(st.Steps) != 2 || st.Steps[1].Step != 1 || string(st.Steps[1].Sealed) != "calls-c" || st.StepSent != 1 {
		t.Errorf("after step 1 recorded: %+v, step sent %d", st.Steps, st.StepSent)
	}

	// The outcome: the first holds, later ones get it back.
	env := &e2ee.Envelope{V: 1, Nonce: make([]byte, 12), Ciphertext: make([]byte, 16),
		Keys: []e2ee.WrappedKey{{Device: "d1", Ephemeral: make([]byte, 32), Nonce: make([]byte, 12), Wrapped: make([]byte, 48)}}}
	held, ours, err := l.Decide(ctx, k, outcome{State: stateReplied, Envelope: env, Attempt: 2})
	if err != nil || !ours || held.State != stateReplied {
		t.Fatalf("first decide = %+v %v %v", held, ours, err)
	}
	held, ours, err = l.Decide(ctx, k, outcome{State: stateFailed, Code: codeInterrupted, Attempt: 3})
	if err != nil || ours || held.State != stateReplied || held.Attempt != 2 || held.Envelope == nil ||
		len(held.Envelope.Keys) != 1 || held.Envelope.Keys[0].Device != "d1" {
		t.Errorf("second decide = %+v %v %v, want the first outcome back", held, ours, err)
	}

	// Open lists it until it is finished.
	other := callKey{Conversation: k.Conversation, Seq: 8, Agent: "bot"}
	if _, err := l.Claim(ctx, other, invokeOf(other), "o", soon); err != nil {
		t.Fatal(err)
	}
	open, err := l.Open(ctx, 10)
	if err != nil || len(open) != 2 || open[0] != k || open[1] != other {
		t.Errorf("open = %v %v, want [%v %v]", open, err, k, other)
	}
	if err := l.Finish(ctx, k, stateReplied); err != nil {
		t.Fatal(err)
	}
	open, _ = l.Open(ctx, 10)
	if len(open) != 1 || open[0] != other {
		t.Errorf("open after finish = %v, want [%v]", open, other)
	}
	if st, _ = l.State(ctx, k); !st.Finished || !st.Sent || st.Outcome == nil {
		t.Errorf("state after finish = %+v", st)
	}
	if st, _ := l.State(ctx, callKey{Conversation: "nope", Seq: 1, Agent: "bot"}); st.Exists {
		t.Errorf("state of an unknown call = %+v", st)
	}
}

// invokeOf is an invoke for k as the ledger keeps it (shape only: the
// ledger does not check keys or ciphertext).
func invokeOf(k callKey) events.AgentInvoke {
	env := &e2ee.Envelope{V: 1, Nonce: make([]byte, 12), Ciphertext: make([]byte, 16),
		Keys: []e2ee.WrappedKey{{Device: "d1", Ephemeral: make([]byte, 32), Nonce: make([]byte, 12), Wrapped: make([]byte, 48)}}}
	return events.AgentInvoke{AgentID: k.Agent, Message: events.Message{ConversationID: k.Conversation, Seq: k.Seq,
		SenderID: "alice", SenderDevice: "d1", ClientMessageID: "m-1", Envelope: env, StoredAt: time.Now().UTC(),
		Audience: &events.Audience{Devices: []events.DeviceRef{{User: "alice", Device: "d1"}}, Keys: map[string]string{"d1": "a2V5"}}}}
}
