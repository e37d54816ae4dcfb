package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/agentchat/agentchat/internal/modeltest"
	"github.com/agentchat/agentchat/internal/testenv"
	"github.com/agentchat/agentchat/sdk/client"
	"github.com/agentchat/agentchat/sdk/protocol"
)

// TestAgentLifecycle: an agent's lifecycle receipts reach the members in
// order — checked on a raw socket (every frame, as it arrives) and
// through the Go client (what an application shows):
//   - the first call after the platform started says waking, thinking,
//     streaming, then done; the next (the runtime warm) thinking,
//     streaming, done;
//   - agent-invoke stopped and started again (what a scale to zero and
//     back is): waking again;
//   - a question that needs the http tool: thinking, tool (http),
//     thinking, streaming, done;
//   - AGENT_MAX_CALLS=1 and one answer held streaming by the model server:
//     the next message says queued — and sends no model request — until
//     the held answer ends, then thinking, streaming, done;
//   - a model that refuses the request: thinking, then error.
//
// Each step is held until the test has seen the status before it — the
// model server holds a request until "thinking" and its second chunk
// until "streaming", an MCP server of helper's its tool list (listed
// between "waking" and "thinking") until "waking", the http tool's API
// its answer until "tool" — so that the order checked is the platform's,
// not the scheduler's.
func TestAgentLifecycle(t *testing.T) {
	// Two more holds, set once the client is up: an MCP server of
	// helper's whose tools/list (between "waking" and "thinking": the turn
	// lists MCP tools before it asks the model, and keeps the list for
	// AGENT_MCP_TOOLS_TTL) answers once "waking" shows, and an API for the
	// http tool that answers once "tool" shows.
	var holdMu sync.Mutex
	var holdList, holdAPI func()
	held := func(h *func()) func() {
		holdMu.Lock()
		defer holdMu.Unlock()
		if *h == nil {
			return func() {}
		}
		return *h
	}
	mcpServer := mcp.NewServer(&mcp.Implementation{Name: "gate", Version: "1"}, nil)
	mcp.AddTool(mcpServer, &mcp.Tool{Name: "noop", Description: "Does nothing."},
		func(context.Context, *mcp.CallToolRequest, struct{}) (*mcp.CallToolResult, any, error) {
			return &mcp.CallToolResult{}, nil, nil
		})
	mcpHandler := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return mcpServer }, nil)
	mcpSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if bytes.Contains(body, []byte(`"tools/list"`)) {
			held(&holdList)()
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		mcpHandler.ServeHTTP(w, r)
	}))
	t.Cleanup(mcpSrv.Close)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		held(&holdAPI)()
		w.Write([]byte("all green"))
	}))
	t.Cleanup(api.Close)
	config := strings.Replace(toolsAgentConfig, `{"helper": {`, fmt.Sprintf(`{"helper": {"mcpServers": [{"name": "gate", "url": %q}], `, mcpSrv.URL), 1)
	ap := startToolAgents(t, map[string]string{"AGENT_MAX_CALLS": "1", "AGENT_HOLD": "1s", "AGENT_CONFIG": config}, api.URL+"/")
	alice, bob := signup(t, ap.env, "alice"), signup(t, ap.env, "bob")
	ca := alice.dial(t, ap.env)
	wa := watch(ca)
	conv := ap.group(t, alice, "lifecycle", bob.id, "helper")
	raw := rawAgentFrames(t, ap.env, bob)

	var mu sync.Mutex
	seqs := map[string]int64{} // tag → the seq of its message
	seqOf := func(tag string) int64 { mu.Lock(); defer mu.Unlock(); return seqs[tag] }
	// shown is the states the Go client handed on for tag's answer.
	shown := func(tag string) []string {
		var out []string
		for _, a := range wa.activity(conv, client.AgentStatus) {
			if seq := seqOf(tag); seq > 0 && a.ReplyTo == seq {
				out = append(out, strings.Join(append([]string{a.State}, a.Tools...), ":"))
			}
		}
		return out
	}
	// until holds the model server's answer until cond (or a minute: the
	// checks below then fail).
	until := func(cond func() bool) {
		for deadline := time.Now().Add(time.Minute); !cond() && time.Now().Before(deadline); {
			time.Sleep(20 * time.Millisecond)
		}
	}
	// last is whether the latest status shown for tag is state.
	last := func(tag, state string) func() bool {
		return func() bool { s := shown(tag); return len(s) > 0 && s[len(s)-1] == state }
	}
	// streamed answers once "thinking" shows, and streams its second
	// chunk once "streaming" does.
	streamed := func(tag, text string) modeltest.Reply {
		until(last(tag, "thinking"))
		return modeltest.Reply{Chunks: modeltest.Words(text), Pace: func(i int) {
			if i == 1 {
				until(last(tag, "streaming"))
			}
		}}
	}
	var asking string // the tag asked last
	holdMu.Lock()
	holdList = func() { holdMu.Lock(); tag := asking; holdMu.Unlock(); until(last(tag, "waking")) }
	holdAPI = func() { until(last("[tool]", "tool:http")) }
	holdMu.Unlock()
	release := make(chan struct{})
	var releaseOnce sync.Once
	t.Cleanup(func() { releaseOnce.Do(func() { close(release) }) })
	ap.model.Script(func(r modeltest.Request) modeltest.Reply {
		msg := r.Last("user")
		tag, _, _ := strings.Cut(msg, " ")
		switch {
		case tag == "[tool]" && r.Last("tool") == "":
			until(last(tag, "thinking"))
			return modeltest.Reply{ToolCalls: []modeltest.ToolCall{{ID: "call_h", Name: "http", Arguments: fmt.Sprintf(`{"url": %q}`, api.URL+"/status")}}}
		case tag == "[tool]":
			until(func() bool {
				s := shown(tag)
				return len(s) > 2 && s[len(s)-2] == "tool:http" && s[len(s)-1] == "thinking"
			})
			return streamed(tag, "the history says hello")
		case tag == "[held]":
			until(last(tag, "thinking"))
			return modeltest.Reply{Chunks: modeltest.Words("held for a while"), Pace: func(i int) {
				if i == 1 {
					<-release
				}
			}}
		case tag == "[refused]":
			until(last(tag, "thinking"))
			return modeltest.Reply{Status: 400, Error: "no"}
		case strings.HasPrefix(tag, "["):
			return streamed(tag, "answer to "+tag)
		}
		return modeltest.Echo(r)
	})
	ask := func(tag string) int64 {
		t.Helper()
		holdMu.Lock()
		asking = tag
		holdMu.Unlock()
		seq := send(t, ca, wa, conv, tag+" please")
		mu.Lock()
		seqs[tag] = seq
		mu.Unlock()
		return seq
	}
	// answered waits for the end of tag's answer (done or error) on the
	// raw socket and checks what came before it: every status once, in
	// index order as they arrived, the states want; and that the Go
	// client handed on want (each state later than the one before).
	answered := func(tag string, end string, want ...string) {
		t.Helper()
		seq := seqOf(tag)
		var frames []protocol.Frame
		testenv.Eventually(t, 90*time.Second, 20*time.Millisecond, func() bool {
			frames = raw.of(seq)
			return len(frames) > 0 && (frames[len(frames)-1].Kind == end)
		}, "the %s of %s (seq %d)", end, tag, seq)
		var got []string
		prev := -1
		for _, f := range frames[:len(frames)-1] {
			switch {
			case f.Kind == protocol.AgentPartial: // the answer's text, in between
			case f.Kind != protocol.AgentStatus:
				t.Errorf("%s: a %q frame before the %s", tag, f.Kind, end)
			case f.Index <= prev:
				t.Errorf("%s: status %q index %d arrived after index %d", tag, f.State, f.Index, prev)
			default:
				prev = f.Index
				got = append(got, strings.Join(append([]string{f.State}, f.Tools...), ":"))
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: statuses on the raw socket = %q, want %q", tag, got, want)
		}
		testenv.Eventually(t, 10*time.Second, 20*time.Millisecond, func() bool { return slices.Equal(shown(tag), want) },
			"%s: the Go client shows %q", tag, want)
		t.Logf("%s (seq %d): %s, %s", tag, seq, strings.Join(got, " → "), end)
	}

	// The first call of the runtime: waking.
	ask("[first]")
	answered("[first]", protocol.AgentDone, "waking", "thinking", "streaming")
	ask("[warm]")
	answered("[warm]", protocol.AgentDone, "thinking", "streaming")

	// Stopped and started again, as a runtime scaled to zero is started by
	// the event that needs it: waking again.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := ap.p.Function("agent-invoke").Restart(ctx); err != nil {
		t.Fatalf("restart agent-invoke: %v", err)
	}
	ask("[restarted]")
	answered("[restarted]", protocol.AgentDone, "waking", "thinking", "streaming")

	ask("[tool]")
	answered("[tool]", protocol.AgentDone, "thinking", "tool:http", "thinking", "streaming")

	// Every model slot busy: queued, and no request until the slot is free.
	ask("[held]")
	testenv.Eventually(t, 30*time.Second, 20*time.Millisecond, last("[held]", "streaming"), "the held answer streaming")
	before := ap.model.Count()
	ask("[queued]")
	testenv.Eventually(t, 30*time.Second, 20*time.Millisecond, last("[queued]", "queued"), "the second call queued")
	if n := ap.model.Count(); n != before {
		t.Errorf("model requests while queued: %d, want still %d", n, before)
	}
	releaseOnce.Do(func() { close(release) })
	answered("[held]", protocol.AgentDone, "thinking", "streaming")
	answered("[queued]", protocol.AgentDone, "queued", "thinking", "streaming")

	ask("[refused]")
	answered("[refused]", protocol.AgentError, "thinking")

	// One reply per answered question, none to the refused one.
	replies := map[int64]int{}
	for _, m := range wa.messages(conv, "helper") {
		replies[m.Content.ReplyTo]++
	}
	for _, tag := range []string{"[first]", "[warm]", "[restarted]", "[tool]", "[held]", "[queued]"} {
		if n := replies[seqOf(tag)]; n != 1 {
			t.Errorf("%s: %d replies, want 1", tag, n)
		}
	}
	if n := replies[seqOf("[refused]")]; n != 0 {
		t.Errorf("[refused]: %d replies, want none", n)
	}
	// The MCP hold held what it should: its tool was offered.
	if reqs := ap.model.Requests(); len(reqs) == 0 || !slices.ContainsFunc(reqs[0].Tools, func(tl modeltest.Tool) bool { return tl.Name == "gate__noop" }) {
		t.Error("the MCP server's tool was not offered: its tool list was never asked for")
	}
}

// agentFrames keeps the agent frames a raw socket received, in arrival
// order.
type agentFrames struct {
	mu     sync.Mutex
	frames []protocol.Frame
}

// of returns the frames about the answer to seq, in arrival order.
func (a *agentFrames) of(seq int64) []protocol.Frame {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []protocol.Frame
	for _, f := range a.frames {
		if f.ReplyTo == seq {
			out = append(out, f)
		}
	}
	return out
}

// rawAgentFrames connects a raw socket of p's device and keeps every
// agent frame it receives: the frames as the connector sends them, with
// nothing of a client library's ordering in between.
func rawAgentFrames(t *testing.T, e *env, p *person) *agentFrames {
	t.Helper()
	token, err := p.sess.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ws, _, err := dialRaw(e.p.ConnectorURLs()[0], token)
	if err != nil {
		t.Fatalf("raw socket: %v", err)
	}
	t.Cleanup(func() { ws.Close() })
	if f := expectFrame(t, ws, protocol.TypeHello); f.User != p.id {
		t.Fatalf("hello %+v", f)
	}
	ws.SetReadDeadline(time.Time{})
	a := &agentFrames{}
	go func() {
		for {
			_, data, err := ws.ReadMessage()
			if err != nil {
				return
			}
			var f protocol.Frame
			if json.Unmarshal(data, &f) == nil && f.Type == protocol.TypeAgent {
				a.mu.Lock()
				a.frames = append(a.frames, f)
				a.mu.Unlock()
			}
		}
	}()
	return a
}
