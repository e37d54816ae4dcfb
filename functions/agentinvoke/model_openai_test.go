package function

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// sseServer answers chat completions the way OpenAI-compatible servers
// do, as the handler for the test says. (internal/modeltest is the full
// test server; this module cannot import the root module's internals.)
func sseServer(t *testing.T, h func(w http.ResponseWriter, body map[string]any)) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/chat/completions" {
			http.NotFound(w, r)
			return
		}
		var body map[string]any
		json.NewDecoder(r.Body).Decode(&body)
		h(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/v1"
}

func writeChunks(w http.ResponseWriter, done bool, chunks ...string) {
	w.Header().Set("Content-Type", "text/event-stream")
	for _, c := range chunks {
		b, _ := json.Marshal(map[string]any{"id": "x", "object": "chat.completion.chunk", "model": "m",
			"choices": []any{map[string]any{"index": 0, "delta": map[string]string{"content": c}}}})
		fmt.Fprintf(w, "data: %s\n\n", b)
		w.(http.Flusher).Flush()
	}
	if done {
		fmt.Fprint(w, "data: [DONE]\n\n")
	}
}

func TestOpenAIModelStreams(t *testing.T) {
	var got map[string]any
	url := sseServer(t, func(w http.ResponseWriter, body map[string]any) {
		got = body
		writeChunks(w, true, "Hel", "lo")
	})
	var deltas []string
	a, err := newOpenAIModel().Stream(context.Background(), modelRequest{
		Endpoint: endpoint{BaseURL: url, Model: "llama"}, MaxTokens: 64,
		Messages: []chatMessage{{Role: roleSystem, Content: "sys"}, {Role: roleUser, Content: "q"}, {Role: roleAssistant, Content: "a"}},
	}, nil, func(d string) { deltas = append(deltas, d) })
	if err != nil || a.Text != "Hello" || strings.Join(deltas, "|") != "Hel|lo" {
		t.Fatalf("Stream = %+v %v, deltas %q", a, err, deltas)
	}
	if a.Usage.Reported {
		t.Errorf("usage = %+v from a stream without a usage chunk, want none reported", a.Usage)
	}
	msgs, _ := json.Marshal(got["messages"])
	opts, _ := json.Marshal(got["stream_options"])
	if got["model"] != "llama" || got["stream"] != true || got["max_tokens"] != float64(64) || string(opts) != `{"include_usage":true}` ||
		string(msgs) != `[{"content":"sys","role":"system"},{"content":"q","role":"user"},{"content":"a","role":"assistant"}]` {
		t.Errorf("request body = %v", got)
	}
}

func TestOpenAIModelErrors(t *testing.T) {
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	closedURL := "http://" + closed.Addr().String() + "/v1"
	closed.Close()
	status := func(code int, retryAfter string) func(http.ResponseWriter, map[string]any) {
		return func(w http.ResponseWriter, _ map[string]any) {
			if retryAfter != "" {
				w.Header().Set("Retry-After", retryAfter)
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(code)
			fmt.Fprint(w, `{"error":{"message":"secret prompt echo","type":"x"}}`)
		}
	}
	for _, c := range []struct {
		name        string
		url         string
		h           func(http.ResponseWriter, map[string]any)
		timeout     time.Duration
		wantCode    string
		wantRefused bool
		wantRetry   time.Duration
		wantUser    bool // retryable for the user
	}{
		{"429 with Retry-After", "", status(429, "2"), 0, codeRateLimited, true, 2 * time.Second, true},
		{"503", "", status(503, ""), 0, codeUnavailable, true, 0, true},
		{"401", "", status(401, ""), 0, codeModelError, false, 0, false},
		{"404 model", "", status(404, ""), 0, codeModelError, false, 0, false},
		{"500", "", status(500, ""), 0, codeModelError, false, 0, true},
		{"broken stream", "", func(w http.ResponseWriter, _ map[string]any) {
			writeChunks(w, false, "half")
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
		}, 0, codeModelError, false, 0, true},
		{"slow", "", func(w http.ResponseWriter, _ map[string]any) { time.Sleep(time.Second) }, 100 * time.Millisecond, codeTimeout, false, 0, true},
		{"unreachable", closedURL, nil, 0, codeUnavailable, true, 0, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			url := c.url
			if url == "" {
				url = sseServer(t, c.h)
			}
			ctx := context.Background()
			if c.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, c.timeout)
				defer cancel()
			}
			_, err := newOpenAIModel().Stream(ctx, modelRequest{Endpoint: endpoint{BaseURL: url, Model: "m"},
				Messages: []chatMessage{{Role: roleUser, Content: "q"}}}, nil, func(string) {})
			me, ok := err.(*modelError)
			if !ok {
				t.Fatalf("err = %v (%T), want *modelError", err, err)
			}
			if me.Code != c.wantCode || me.Refused != c.wantRefused || me.RetryAfter != c.wantRetry || me.Retryable != c.wantUser {
				t.Errorf("got %+v, want code %s refused %v retryAfter %v retryable %v", me, c.wantCode, c.wantRefused, c.wantRetry, c.wantUser)
			}
			if wantStatus := map[string]int{"429 with Retry-After": 429, "503": 503, "500": 500, "401": 401, "404 model": 404}[c.name]; me.Status != wantStatus {
				t.Errorf("status = %d, want %d", me.Status, wantStatus)
			}
			if strings.Contains(me.Error(), "secret prompt echo") {
				t.Errorf("the error carries the endpoint's body: %v", me)
			}
		})
	}
}

// The usage chunk OpenAI sends with stream_options.include_usage (no
// choices, after the last content) is the answer's usage; the first
// chunk starts the answer, with the endpoint's id.
func TestOpenAIModelUsage(t *testing.T) {
	url := sseServer(t, func(w http.ResponseWriter, _ map[string]any) {
		w.Header().Set("Content-Type", "text/event-stream")
		for _, c := range []string{
			`{"id":"chatcmpl-9","object":"chat.completion.chunk","model":"m","usage":null,"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}`,
			`{"id":"chatcmpl-9","object":"chat.completion.chunk","model":"m","usage":null,"choices":[{"index":0,"delta":{"content":"ok"},"finish_reason":"stop"}]}`,
			`{"id":"chatcmpl-9","object":"chat.completion.chunk","model":"m","choices":[],"usage":{"prompt_tokens":31,"completion_tokens":7,"total_tokens":38}}`,
			`[DONE]`,
		} {
			fmt.Fprintf(w, "data: %s\n\n", c)
		}
	})
	var started []string
	a, err := newOpenAIModel().Stream(context.Background(), modelRequest{Endpoint: endpoint{BaseURL: url, Model: "m"},
		Messages: []chatMessage{{Role: roleUser, Content: "q"}}}, func(id string) { started = append(started, id) }, func(string) {})
	if err != nil || a.Text != "ok" || a.Usage != (tokenUsage{Prompt: 31, Completion: 7, Reported: true}) {
		t.Errorf("Stream = %+v, %v; want ok with usage 31+7", a, err)
	}
	if len(started) != 1 || started[0] != "chatcmpl-9" {
		t.Errorf("onStart calls = %q, want one with the id", started)
	}
}

func TestRetryAfter(t *testing.T) {
	for _, c := range []struct {
		h    http.Header
		want time.Duration
	}{
		{http.Header{}, 0},
		{http.Header{"Retry-After": {"3"}}, 3 * time.Second},
		{http.Header{"Retry-After": {"0.5"}}, 500 * time.Millisecond},
		{http.Header{"Retry-After-Ms": {"250"}, "Retry-After": {"3"}}, 250 * time.Millisecond},
		{http.Header{"Retry-After": {"soon"}}, 0},
	} {
		if got := retryAfter(c.h); got != c.want {
			t.Errorf("retryAfter(%v) = %v, want %v", c.h, got, c.want)
		}
	}
}
