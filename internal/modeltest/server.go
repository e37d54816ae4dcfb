// Package modeltest is a local OpenAI-compatible chat-completions server
// for tests: a real HTTP server on 127.0.0.1 that agent runtimes reach
// through OPENAI_BASE_URL, exactly as they would reach Ollama, vLLM or
// OpenAI. A test scripts each answer (streamed chunks, pacing, errors, 429
// with Retry-After, slow first bytes, a broken stream) and reads back every
// request the server saw, so it can count model calls.
//
// It speaks POST {base}/chat/completions, streaming (SSE "data:" lines
// ending with "data: [DONE]") when the request says "stream": true, one
// JSON chat.completion otherwise; GET {base}/chat/completions/{id} for
// answers requested with "store": true (as OpenAI's stored completions: the
// answer is kept once generated, also when the client went away mid-stream;
// 404 before that); and GET {base}/models.
//
// Tool calls are streamed as OpenAI streams them: a Reply with ToolCalls
// sends, after any content, for each call a first delta with its index,
// id, type "function", name and empty arguments, then its arguments in
// pieces (deltas with the index only), and ends with finish_reason
// "tool_calls". Requests record the tools offered and the assistant
// tool_calls and tool messages sent back, so a test can check what the
// model was shown.
//
// Usage is reported as OpenAI reports it: in every JSON completion, and in
// a stream only when the request asks with stream_options: {include_usage:
// true} — then every chunk carries "usage": null and one more chunk, with
// no choices and the usage, comes before [DONE] (not after a dropped
// stream). The counts are the script's (Reply.Usage) or, by default, one
// prompt token per word of the request's messages and one completion
// token per chunk: a test can predict them.
package modeltest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// Message is one chat message of a request: an assistant message may
// carry the tool calls it made, a "tool" message the result of one.
type Message struct {
	Role       string     `json:"role"`
	Content    string     `json:"content"`
	ToolCalls  []ToolCall `json:"tool_calls,omitempty"`
	ToolCallID string     `json:"tool_call_id,omitempty"`
}

// ToolCall is one call of a function tool, as a request sends it back
// (ID, Name, Arguments) and as a Reply scripts it.
type ToolCall struct {
	ID        string `json:"id"`
	Name      string `json:"-"`
	Arguments string `json:"-"` // the JSON the model writes
}

// UnmarshalJSON reads OpenAI's {"id", "type": "function", "function":
// {"name", "arguments"}}.
func (c *ToolCall) UnmarshalJSON(b []byte) error {
	var w struct {
		ID       string `json:"id"`
		Function struct {
			Name      string `json:"name"`
			Arguments string `json:"arguments"`
		} `json:"function"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	c.ID, c.Name, c.Arguments = w.ID, w.Function.Name, w.Function.Arguments
	return nil
}

// MarshalJSON writes OpenAI's shape (what UnmarshalJSON reads).
func (c ToolCall) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]any{"id": c.ID, "type": "function",
		"function": map[string]string{"name": c.Name, "arguments": c.Arguments}})
}

// Tool is a function tool a request offers.
type Tool struct {
	Name        string
	Description string
	Parameters  json.RawMessage // its JSON schema
}

// Request is what the server received: one model call.
type Request struct {
	N             int // 1-based arrival order
	Model         string
	Messages      []Message
	Tools         []Tool // the function tools offered
	Stream        bool
	Store         bool
	IncludeUsage  bool   // stream_options.include_usage
	Authorization string // the Authorization header, e.g. "Bearer sk-…"
	At            time.Time
}

// Last returns the content of the last message with role, or "".
func (r Request) Last(role string) string {
	for i := len(r.Messages) - 1; i >= 0; i-- {
		if r.Messages[i].Role == role {
			return r.Messages[i].Content
		}
	}
	return ""
}

// Reply scripts the answer to one request. The zero Reply streams an
// empty answer.
type Reply struct {
	// Status other than 0 or 200 answers with an OpenAI-style error body
	// (Error as its message) instead of a completion.
	Status int
	Error  string
	// RetryAfter is sent as the Retry-After header (with any Status).
	RetryAfter string
	// Delay holds the response back before its headers: a slow model,
	// or one that never answers within the caller's timeout.
	Delay time.Duration
	// Chunks are the content deltas, in order; ChunkDelay paces them.
	Chunks     []string
	ChunkDelay time.Duration
	// Pace, if set, holds chunk i (i ≥ 1) back until Pace(i) has
	// returned: a test paces a stream by events (a partial seen, a process
	// killed) instead of by time. The server calls it once per chunk, in
	// order, on a goroutine of its own and whether or not the client is
	// still there (the model goes on generating; a stored answer is ready
	// only once every call has returned). It must return eventually.
	Pace func(i int)
	// Drop closes the connection after the chunks, without the final
	// chunk and [DONE]: a stream broken half way.
	Drop bool
	// ToolCalls, if set, are the tool calls the answer ends with (after
	// Chunks, if any), streamed in pieces of ArgumentChunk bytes (all at
	// once when 0); finish_reason is then "tool_calls".
	ToolCalls     []ToolCall
	ArgumentChunk int
	// Usage, if set, is the usage reported instead of the default counts
	// (Reply.UsageFor); NoUsage reports none, as an endpoint that ignores
	// stream_options does.
	Usage   *Usage
	NoUsage bool
}

// Usage is the token usage the server reports for one answer.
type Usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

// UsageFor is the usage the server reports for reply to req: reply.Usage
// if set, else one prompt token per word of req's messages and one
// completion token per chunk.
func (reply Reply) UsageFor(req Request) Usage {
	if reply.Usage != nil {
		u := *reply.Usage
		u.TotalTokens = u.PromptTokens + u.CompletionTokens
		return u
	}
	u := Usage{CompletionTokens: len(reply.Chunks)}
	for _, m := range req.Messages {
		u.PromptTokens += len(strings.Fields(m.Content))
	}
	u.TotalTokens = u.PromptTokens + u.CompletionTokens
	return u
}

// Server is a running test model endpoint. Its methods may be called from
// any goroutine.
type Server struct {
	http *httptest.Server

	mu        sync.Mutex
	script    func(Request) Reply
	requests  []Request
	inFlight  int
	completed int // answered to the end (chunks and [DONE], or the error body)
	aborted   int // the client went away before the end
	changed   chan struct{}

	stored     map[string]storedAnswer // by completion id, for store: true
	retrievals int
}

// storedAnswer is a completion kept for retrieval from readyAt on, when
// the model would have finished generating it.
type storedAnswer struct {
	req     Request
	text    string
	calls   []ToolCall
	usage   *Usage // nil: none reported
	readyAt time.Time
	gen     *generation // nil unless paced
}

// generation is a paced answer's progress: ready[i] is closed once chunk i
// has been generated.
type generation struct {
	ready []chan struct{}
}

// generate calls pace for chunks 1..n-1 in order, on its own goroutine,
// marking each chunk generated after its call.
func generate(n int, pace func(int)) *generation {
	g := &generation{ready: make([]chan struct{}, n)}
	for i := range g.ready {
		g.ready[i] = make(chan struct{})
	}
	if n > 0 {
		close(g.ready[0])
	}
	go func() {
		for i := 1; i < n; i++ {
			pace(i)
			close(g.ready[i])
		}
	}()
	return g
}

// wait waits until chunk i is generated; false if the client went away
// first.
func (g *generation) wait(r *http.Request, i int) bool {
	if g == nil || i >= len(g.ready) {
		return r.Context().Err() == nil
	}
	select {
	case <-g.ready[i]:
		return true
	case <-r.Context().Done():
		return false
	}
}

// done reports whether every chunk is generated.
func (g *generation) done() bool {
	if g == nil || len(g.ready) == 0 {
		return true
	}
	select {
	case <-g.ready[len(g.ready)-1]:
		return true
	default:
		return false
	}
}

// New starts a server on a free 127.0.0.1 port that echoes: each answer is
// "echo: " and the last user message, streamed word by word.
func New() *Server {
	s := &Server{script: Echo, changed: make(chan struct{}), stored: map[string]storedAnswer{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/chat/completions", s.chat)
	mux.HandleFunc("GET /v1/chat/completions/{id}", s.retrieve)
	mux.HandleFunc("GET /v1/models", s.models)
	s.http = httptest.NewServer(mux)
	return s
}

// URL is the base URL to use as OPENAI_BASE_URL (it ends in /v1).
func (s *Server) URL() string { return s.http.URL + "/v1" }

// Close stops the server, cutting any answer in progress.
func (s *Server) Close() {
	s.http.CloseClientConnections()
	s.http.Close()
}

// Script makes fn answer every following request.
func (s *Server) Script(fn func(Request) Reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.script = fn
}

// Requests returns every request received so far, in arrival order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Retrievals is how many times a stored answer was asked for (found or
// not). They are reads, not model calls: Count does not include them.
func (s *Server) Retrievals() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.retrievals
}

// Count is how many requests have arrived.
func (s *Server) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.requests)
}

// Stats returns how many requests are being answered now, were answered
// to the end, and were cut off by the client.
func (s *Server) Stats() (inFlight, completed, aborted int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inFlight, s.completed, s.aborted
}

// Changed returns a channel closed at the next change of the counters:
// wait on it instead of sleeping.
func (s *Server) Changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

// update changes the counters under the lock and wakes Changed waiters.
func (s *Server) update(fn func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn()
	close(s.changed)
	s.changed = make(chan struct{})
}

type chatRequest struct {
	Model    string    `json:"model"`
	Messages []Message `json:"messages"`
	Tools    []struct {
		Type     string `json:"type"`
		Function struct {
			Name        string          `json:"name"`
			Description string          `json:"description"`
			Parameters  json.RawMessage `json:"parameters"`
		} `json:"function"`
	} `json:"tools"`
	Stream        bool `json:"stream"`
	Store         bool `json:"store"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
}

func (s *Server) chat(w http.ResponseWriter, r *http.Request) {
	var body chatRequest
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "body: "+err.Error())
		return
	}
	var tools []Tool
	for _, t := range body.Tools {
		if t.Type != "function" {
			writeError(w, http.StatusBadRequest, "invalid_request_error", "tools: only function tools")
			return
		}
		tools = append(tools, Tool{Name: t.Function.Name, Description: t.Function.Description, Parameters: t.Function.Parameters})
	}
	var req Request
	var script func(Request) Reply
	s.update(func() {
		req = Request{N: len(s.requests) + 1, Model: body.Model, Messages: body.Messages, Tools: tools, Stream: body.Stream,
			Store: body.Store, IncludeUsage: body.StreamOptions != nil && body.StreamOptions.IncludeUsage,
			Authorization: r.Header.Get("Authorization"), At: time.Now()}
		s.requests = append(s.requests, req)
		s.inFlight++
		script = s.script
	})
	finished := false
	defer func() {
		s.update(func() {
			s.inFlight--
			if finished {
				s.completed++
			} else {
				s.aborted++
			}
		})
	}()
	reply := script(req)
	var usage *Usage
	if !reply.NoUsage {
		u := reply.UsageFor(req)
		usage = &u
	}
	var gen *generation
	if reply.Pace != nil && (reply.Status == 0 || reply.Status == http.StatusOK) {
		gen = generate(len(reply.Chunks), reply.Pace)
	}
	if body.Store && (reply.Status == 0 || reply.Status == http.StatusOK) && !reply.Drop {
		// The model generates the whole answer whatever the client does.
		took := reply.Delay + time.Duration(max(0, len(reply.Chunks)-1))*reply.ChunkDelay
		s.update(func() {
			s.stored[completionID(req)] = storedAnswer{req: req, text: Join(reply.Chunks), calls: reply.ToolCalls, usage: usage, readyAt: req.At.Add(took), gen: gen}
		})
	}
	if !wait(r, reply.Delay) {
		return
	}
	if reply.RetryAfter != "" {
		w.Header().Set("Retry-After", reply.RetryAfter)
	}
	if reply.Status != 0 && reply.Status != http.StatusOK {
		writeError(w, reply.Status, errorType(reply.Status), reply.Error)
		finished = true
		return
	}
	if !body.Stream {
		if !gen.wait(r, len(reply.Chunks)-1) {
			return
		}
		writeCompletion(w, req, strings.Join(reply.Chunks, ""), reply.ToolCalls, usage)
		finished = true
		return
	}
	if !req.IncludeUsage {
		usage = nil
	}
	finished = stream(w, r, req, reply, gen, usage)
}

// stream writes reply as server-sent events, and the usage chunk when
// the request asked for it (usage: nil when it did not, or none is
// reported); false if the client went away or the script dropped the
// connection.
func stream(w http.ResponseWriter, r *http.Request, req Request, reply Reply, gen *generation, usage *Usage) bool {
	flusher, _ := w.(http.Flusher)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	id := completionID(req)
	write := func(chunk map[string]any) bool {
		b, _ := json.Marshal(chunk)
		if _, err := fmt.Fprintf(w, "data: %s\n\n", b); err != nil {
			return false
		}
		if flusher != nil {
			flusher.Flush()
		}
		return true
	}
	send := func(delta map[string]any, finish any) bool {
		chunk := map[string]any{
			"id": id, "object": "chat.completion.chunk", "created": req.At.Unix(), "model": req.Model,
			"choices": []any{map[string]any{"index": 0, "delta": delta, "finish_reason": finish}},
		}
		if req.IncludeUsage {
			chunk["usage"] = nil
		}
		return write(chunk)
	}
	if !send(map[string]any{"role": "assistant", "content": ""}, nil) {
		return false
	}
	for i, c := range reply.Chunks {
		if i > 0 && (!gen.wait(r, i) || !wait(r, reply.ChunkDelay)) {
			return false
		}
		if !send(map[string]any{"content": c}, nil) {
			return false
		}
	}
	for i, c := range reply.ToolCalls {
		first := map[string]any{"index": i, "id": c.ID, "type": "function", "function": map[string]any{"name": c.Name, "arguments": ""}}
		if !send(map[string]any{"tool_calls": []any{first}}, nil) {
			return false
		}
		for _, piece := range pieces(c.Arguments, reply.ArgumentChunk) {
			if !send(map[string]any{"tool_calls": []any{map[string]any{"index": i, "function": map[string]any{"arguments": piece}}}}, nil) {
				return false
			}
		}
	}
	if reply.Drop {
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
			}
		}
		return false
	}
	finish := "stop"
	if len(reply.ToolCalls) > 0 {
		finish = "tool_calls"
	}
	if !send(map[string]any{}, finish) {
		return false
	}
	if usage != nil && !write(map[string]any{"id": id, "object": "chat.completion.chunk", "created": req.At.Unix(),
		"model": req.Model, "choices": []any{}, "usage": usage}) {
		return false
	}
	fmt.Fprint(w, "data: [DONE]\n\n")
	if flusher != nil {
		flusher.Flush()
	}
	return true
}

// wait sleeps for d unless the client goes away first.
func wait(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return r.Context().Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

// completionID is the id of request req's answer.
func completionID(req Request) string { return fmt.Sprintf("chatcmpl-%d", req.N) }

// retrieve answers GET .../chat/completions/{id}: the stored answer once
// the model would have finished it, else 404 as OpenAI does.
func (s *Server) retrieve(w http.ResponseWriter, r *http.Request) {
	var a storedAnswer
	var ok bool
	s.update(func() {
		s.retrievals++
		a, ok = s.stored[r.PathValue("id")]
	})
	if !ok || time.Now().Before(a.readyAt) || !a.gen.done() {
		writeError(w, http.StatusNotFound, "invalid_request_error", "No completion found with id "+r.PathValue("id"))
		return
	}
	writeCompletion(w, a.req, a.text, a.calls, a.usage)
}

// pieces splits s into pieces of n bytes (one piece when n is 0).
func pieces(s string, n int) []string {
	if n <= 0 || len(s) <= n {
		return []string{s}
	}
	var out []string
	for len(s) > n {
		out = append(out, s[:n])
		s = s[n:]
	}
	return append(out, s)
}

// writeCompletion answers with one chat.completion; usage nil leaves it
// out.
func writeCompletion(w http.ResponseWriter, req Request, text string, calls []ToolCall, usage *Usage) {
	msg := map[string]any{"role": "assistant", "content": text}
	finish := "stop"
	if len(calls) > 0 {
		finish = "tool_calls"
		tcs := make([]any, len(calls))
		for i, c := range calls {
			tcs[i] = map[string]any{"id": c.ID, "type": "function", "function": map[string]any{"name": c.Name, "arguments": c.Arguments}}
		}
		msg["tool_calls"] = tcs
	}
	c := map[string]any{
		"id": completionID(req), "object": "chat.completion", "created": req.At.Unix(), "model": req.Model,
		"choices": []any{map[string]any{"index": 0, "finish_reason": finish, "message": msg}},
	}
	if usage != nil {
		c["usage"] = usage
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(c)
}

func writeError(w http.ResponseWriter, status int, typ, msg string) {
	if msg == "" {
		msg = http.StatusText(status)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"message": msg, "type": typ, "code": nil, "param": nil}})
}

func errorType(status int) string {
	switch {
	case status == http.StatusTooManyRequests:
		return "rate_limit_exceeded"
	case status >= 500:
		return "server_error"
	}
	return "invalid_request_error"
}

func (s *Server) models(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"object": "list",
		"data": []any{map[string]any{"id": "test-model", "object": "model", "owned_by": "modeltest"}}})
}
