package e2e

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/agentchat/agentchat/internal/modeltest"
	"github.com/agentchat/agentchat/internal/testenv"
	"github.com/agentchat/agentchat/sdk/client"
	"github.com/agentchat/agentchat/sdk/e2ee"
)

// toolsAgentConfig gives helper the two example tools.
const toolsAgentConfig = `{"helper": {"tools": [
 {"name": "history", "description": "Reads earlier messages of this conversation.",
  "parameters": {"type": "object", "properties": {"count": {"type": "integer"}}}},
 {"name": "http", "description": "Calls an allowed HTTP API.",
  "parameters": {"type": "object", "required": ["url"], "properties": {"url": {"type": "string"}}}}]}}`

// startToolAgents is startAgents with the two example tools running:
// history-tool holds helper's key (as agent-invoke does), http-tool may
// call allow (a URL prefix).
func startToolAgents(t *testing.T, invokeEnv map[string]string, allow string) *agentPlatform {
	t.Helper()
	model := modeltest.New()
	t.Cleanup(model.Close)
	keys := map[string]*e2ee.PrivateKey{}
	for _, id := range []string{"helper", "calc"} {
		keys[id], _ = e2ee.GenerateKey()
	}
	b64 := func(id string) string { return id + ":" + base64.StdEncoding.EncodeToString(keys[id].Bytes()) }
	ai := map[string]string{
		"OPENAI_BASE_URL": model.URL(), "OPENAI_API_KEY": "sk-test", "OPENAI_MODEL": "test-model",
		"AGENT_SYSTEM_PROMPT": "You are Helper.", "AGENT_KEYS": b64("helper"), "AGENT_CONFIG": toolsAgentConfig,
	}
	for k, v := range invokeEnv {
		ai[k] = v
	}
	e := start(t, opts{functions: append(append([]string(nil), agentFunctions...), "history-tool", "http-tool"),
		envFor: map[string]map[string]string{
			"agent-invoke": ai,
			"calc-agent":   {"AGENT_KEYS": b64("calc")},
			"history-tool": {"AGENT_KEYS": b64("helper")},
			"http-tool":    {"HTTP_TOOL_ALLOW": allow},
		}})
	ap := &agentPlatform{env: e, model: model, owner: signup(t, e, "owner"), keys: keys}
	if _, err := ap.owner.sess.RegisterAgent(context.Background(), "Helper", "model", keys["helper"].PublicKey(), "helper"); err != nil {
		t.Fatalf("register agent helper: %v", err)
	}
	return ap
}

// TestToolCallsSurviveAKill: a question that needs two tool calls — the
// history tool (what the agent can read of the conversation) and the
// http tool (an allowed API) — while agent-invoke is killed between the
// tool calls and their results: each tool runs exactly once per call id
// (the API sees one request per call id, tool_runs holds one claim
// each), the restarted runtime finds the results instead of calling the
// tools again, and the question gets exactly one stored reply, from two
// model requests, the second carrying both results. The ledger keeps the
// calls and results sealed: no plaintext of them in MongoDB.
func TestToolCallsSurviveAKill(t *testing.T) {
	// The API holds its answer until agent-invoke has been killed.
	killed := make(chan struct{})
	var killedOnce sync.Once
	release := func() { killedOnce.Do(func() { close(killed) }) }
	t.Cleanup(release)
	var mu sync.Mutex
	hits := map[string]int{} // by X-Agentchat-Tool-Call
	hit := make(chan struct{}, 16)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits[r.Header.Get("X-Agentchat-Tool-Call")]++
		mu.Unlock()
		hit <- struct{}{}
		select {
		case <-killed:
		case <-r.Context().Done():
			return
		}
		w.Write([]byte("all systems go"))
	}))
	t.Cleanup(api.Close)

	ap := startToolAgents(t, map[string]string{"AGENT_LEASE": "3s", "AGENT_SWEEP_INTERVAL": "300ms", "AGENT_HOLD": "1s"}, api.URL+"/")
	ap.model.Script(func(r modeltest.Request) modeltest.Reply {
		if !strings.HasPrefix(r.Last("user"), "[tools]") {
			return modeltest.Echo(r)
		}
		if res := r.Last("tool"); res != "" {
			return modeltest.Reply{Chunks: modeltest.Words("the API says " + strings.TrimPrefix(res, "HTTP 200\n"))}
		}
		return modeltest.Reply{ArgumentChunk: 7, ToolCalls: []modeltest.ToolCall{
			{ID: "call_history", Name: "history", Arguments: `{"count": 5}`},
			{ID: "call_http", Name: "http", Arguments: fmt.Sprintf(`{"url": %q}`, api.URL+"/status")},
		}}
	})
	alice := signup(t, ap.env, "alice")
	ca := alice.dial(t, ap.env)
	wa := watch(ca)
	conv := ap.group(t, alice, "tools", "helper")
	const earlier = "the plan is TOOL-CANARY-BLUE"
	send(t, ca, wa, conv, earlier)
	testenv.Eventually(t, 30*time.Second, 20*time.Millisecond, func() bool { return len(wa.messages(conv, "helper")) == 1 },
		"the echo of the earlier message")
	question := send(t, ca, wa, conv, "[tools] what is the status, and what was the plan?")

	select {
	case <-hit:
	case <-time.After(60 * time.Second):
		t.Fatal("the http tool never called the API")
	}
	proc := ap.p.Function("agent-invoke")
	proc.Kill()
	release() // the tool answers now, to a runtime that is gone
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := proc.Restart(ctx); err != nil {
		t.Fatalf("restart agent-invoke: %v", err)
	}

	testenv.Eventually(t, 90*time.Second, 50*time.Millisecond, func() bool {
		return ap.callState(conv, question, "helper") == "replied"
	}, "the question answered")
	var replies []string
	testenv.Eventually(t, 10*time.Second, 50*time.Millisecond, func() bool {
		replies = replies[:0]
		for _, m := range wa.messages(conv, "helper") {
			if m.Content.ReplyTo == question {
				replies = append(replies, m.Content.Text)
			}
		}
		return len(replies) > 0
	}, "the reply delivered")
	if len(replies) != 1 || replies[0] != "the API says all systems go" {
		t.Errorf("replies to the question = %q, want exactly one with the API's answer", replies)
	}
	if errs := wa.activity(conv, client.AgentError); len(errs) != 0 {
		t.Errorf("agent errors: %+v", errs)
	}
	// Two model requests for the question; the second carries both results.
	var asked []modeltest.Request
	for _, r := range ap.model.Requests() {
		if strings.HasPrefix(r.Last("user"), "[tools]") {
			asked = append(asked, r)
		}
	}
	if len(asked) != 2 {
		t.Fatalf("model requests for the question = %d, want 2", len(asked))
	}
	if len(asked[0].Tools) != 2 {
		t.Errorf("tools offered = %+v, want history and http", asked[0].Tools)
	}
	results := map[string]string{}
	for _, m := range asked[1].Messages {
		if m.Role == "tool" {
			results[m.ToolCallID] = m.Content
		}
	}
	if !strings.Contains(results["call_history"], earlier) || results["call_http"] != "HTTP 200\nall systems go" {
		t.Errorf("tool results the model got = %q", results)
	}
	// Each tool ran once per call id.
	mu.Lock()
	apiHits := fmt.Sprint(hits)
	n := 0
	for id, c := range hits {
		if c != 1 || !strings.HasPrefix(id, "tc-") {
			n = -100
		}
		n++
	}
	mu.Unlock()
	if n != 1 {
		t.Errorf("API requests by call id = %s, want one call id, once", apiHits)
	}
	runs, err := ap.mongo.Collection("tool_runs").CountDocuments(context.Background(), bson.D{})
	if err != nil || runs != 2 {
		t.Errorf("tool_runs = %d %v, want 2 (one per call id)", runs, err)
	}
	// Sealed: the ledger's steps and results hold no plaintext.
	cur, err := ap.mongo.Collection("agent_call_steps").Find(context.Background(), bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	var docs []bson.Raw
	if err := cur.All(context.Background(), &docs); err != nil {
		t.Fatal(err)
	}
	tools := 0
	for _, d := range docs {
		if id, _ := d.Lookup("_id").StringValueOK(); strings.Contains(id, "/tool/") || strings.Contains(id, "/step/") {
			tools++
		}
		for _, canary := range []string{"TOOL-CANARY", "all systems go", "/status"} {
			if strings.Contains(string(d), canary) {
				t.Errorf("agent_call_steps holds %q in plaintext: %s", canary, d)
			}
		}
	}
	if tools < 4 { // step 0's calls, its two results, request 1's sent marker
		t.Errorf("tool entries in the ledger = %d, want at least 4", tools)
	}
	// Both requests' usage is recorded, each once: the first by the
	// attempt that was killed (as its answer came in, before the tools
	// ran), the second by the takeover — and the conversation's total is
	// their sum.
	var total int64
	for step, id := range []string{fmt.Sprintf("%s/%d/helper", conv, question), fmt.Sprintf("%s/%d/helper/1", conv, question)} {
		var turn struct {
			Step             int   `bson:"step"`
			PromptTokens     int64 `bson:"promptTokens"`
			CompletionTokens int64 `bson:"completionTokens"`
			Reported         bool  `bson:"reported"`
		}
		if err := ap.mongo.Collection("agent_usage").FindOne(context.Background(), bson.D{{Key: "_id", Value: id}}).Decode(&turn); err != nil {
			t.Errorf("usage of request %d (%s): %v", step, id, err)
			continue
		}
		if turn.Step != step || !turn.Reported || turn.PromptTokens == 0 {
			t.Errorf("usage of request %d = %+v", step, turn)
		}
		want := modeltest.Reply{}.UsageFor(asked[step])
		if step == 1 {
			want = modeltest.Reply{Chunks: modeltest.Words("the API says all systems go")}.UsageFor(asked[1])
		}
		if turn.PromptTokens != int64(want.PromptTokens) || turn.CompletionTokens != int64(want.CompletionTokens) {
			t.Errorf("usage of request %d = %d+%d, want what the server reported, %d+%d", step,
				turn.PromptTokens, turn.CompletionTokens, want.PromptTokens, want.CompletionTokens)
		}
		total += turn.PromptTokens + turn.CompletionTokens
	}
	var counter struct {
		Total int64 `bson:"total"`
	}
	cur2, err := ap.mongo.Collection("agent_usage_totals").Find(context.Background(),
		bson.D{{Key: "counter", Value: fmt.Sprintf("conversation/%s/helper/%s", conv, time.Now().UTC().Format("2006-01"))}})
	if err != nil {
		t.Fatal(err)
	}
	var entries []struct {
		N     int64 `bson:"n"`
		Total int64 `bson:"total"`
	}
	if err := cur2.All(context.Background(), &entries); err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		counter.Total = max(counter.Total, e.Total)
	}
	// The earlier message's echo was counted there too.
	var echo struct {
		PromptTokens     int64 `bson:"promptTokens"`
		CompletionTokens int64 `bson:"completionTokens"`
	}
	ap.mongo.Collection("agent_usage").FindOne(context.Background(), bson.D{{Key: "_id", Value: fmt.Sprintf("%s/%d/helper", conv, question-2)}}).Decode(&echo)
	if want := total + echo.PromptTokens + echo.CompletionTokens; counter.Total != want {
		t.Errorf("the conversation's token total = %d, want %d (both requests of the question and the echo)", counter.Total, want)
	}
	t.Logf("model requests %d, API hits %s, tokens of the question %d", ap.model.Count(), apiHits, total)
}
