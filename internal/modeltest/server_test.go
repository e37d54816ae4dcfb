package modeltest

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// post sends one chat request and returns the status, the Retry-After
// header and the streamed content deltas (or the error message).
func post(t *testing.T, ctx context.Context, s *Server, user string, stream bool) (int, string, []string, error) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"model": "m", "stream": stream,
		"messages": []Message{{Role: "system", Content: "be brief"}, {Role: "user", Content: user}}})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.URL()+"/chat/completions", strings.NewReader(string(body)))
	req.Header.Set("Authorization", "Bearer sk-test")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error struct{ Message string } `json:"error"`
		}
		json.NewDecoder(resp.Body).Decode(&e)
		return resp.StatusCode, resp.Header.Get("Retry-After"), []string{e.Error.Message}, nil
	}
	if !stream {
		var c struct {
			Choices []struct{ Message Message } `json:"choices"`
		}
		err := json.NewDecoder(resp.Body).Decode(&c)
		return resp.StatusCode, "", []string{c.Choices[0].Message.Content}, err
	}
	var deltas []string
	sc := bufio.NewScanner(resp.Body)
	done := false
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		if line == "[DONE]" {
			done = true
			break
		}
		var chunk struct {
			Choices []struct {
				Delta struct{ Content string } `json:"delta"`
			} `json:"choices"`
		}
		if err := json.Unmarshal([]byte(line), &chunk); err != nil {
			return resp.StatusCode, "", deltas, err
		}
		if c := chunk.Choices[0].Delta.Content; c != "" {
			deltas = append(deltas, c)
		}
	}
	if !done {
		return resp.StatusCode, "", deltas, errBroken
	}
	return resp.StatusCode, "", deltas, sc.Err()
}

var errBroken = &brokenErr{}

type brokenErr struct{}

func (*brokenErr) Error() string { return "stream ended without [DONE]" }

func TestServer(t *testing.T) {
	s := New()
	defer s.Close()
	ctx := context.Background()

	// Default: echo, streamed word by word, and recorded.
	code, _, deltas, err := post(t, ctx, s, "hello there", true)
	if err != nil || code != 200 {
		t.Fatalf("echo: %d %v", code, err)
	}
	if got, want := strings.Join(deltas, ""), "echo: hello there"; got != want {
		t.Errorf("echo = %q, want %q", got, want)
	}
	if got, want := len(deltas), 3; got != want {
		t.Errorf("echo chunks = %d (%q), want %d", got, deltas, want)
	}
	reqs := s.Requests()
	if len(reqs) != 1 || reqs[0].Last("user") != "hello there" || reqs[0].Last("system") != "be brief" ||
		reqs[0].Authorization != "Bearer sk-test" || !reqs[0].Stream {
		t.Errorf("recorded %+v", reqs)
	}

	// Scripted: 429 with Retry-After, a 500, then a paced answer.
	s.Script(Sequence(
		Reply{Status: 429, RetryAfter: "2", Error: "slow down"},
		Reply{Status: 500, Error: "boom"},
		Reply{Chunks: []string{"a", "b", "c"}, ChunkDelay: 20 * time.Millisecond},
	))
	for _, c := range []struct {
		wantCode  int
		wantRetry string
		want      string
	}{
		{429, "2", "slow down"},
		{500, "", "boom"},
		{200, "", "abc"},
		{200, "", "abc"},
	} {
		code, retry, deltas, err := post(t, ctx, s, "x", true)
		if err != nil || code != c.wantCode || retry != c.wantRetry || strings.Join(deltas, "") != c.want {
			t.Errorf("got %d retry=%q %q %v, want %d retry=%q %q", code, retry, deltas, err, c.wantCode, c.wantRetry, c.want)
		}
	}

	// Not streamed: one completion.
	s.Script(Answer("one two"))
	if code, _, out, err := post(t, ctx, s, "x", false); err != nil || code != 200 || out[0] != "one two" {
		t.Errorf("non-streaming: %d %q %v", code, out, err)
	}

	// A broken stream: chunks, then the connection closes.
	s.Script(func(Request) Reply { return Reply{Chunks: []string{"half"}, Drop: true} })
	if _, _, deltas, err := post(t, ctx, s, "x", true); err == nil || strings.Join(deltas, "") != "half" {
		t.Errorf("dropped stream: %q %v, want the chunk and an error", deltas, err)
	}

	if got, want := s.Count(), 7; got != want {
		t.Errorf("Count = %d, want %d", got, want)
	}
}

// A slow answer is in flight until it completes; a client that gives up
// is counted as aborted, and Changed wakes waiters without sleeping.
func TestServerSlowAndAborted(t *testing.T) {
	s := New()
	defer s.Close()
	s.Script(func(Request) Reply { return Reply{Delay: time.Hour} })
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, _, _, err := post(t, ctx, s, "x", true)
		errc <- err
	}()
	for {
		ch := s.Changed()
		if in, _, _ := s.Stats(); in == 1 {
			break
		}
		select {
		case <-ch:
		case <-time.After(5 * time.Second):
			t.Fatal("request never arrived")
		}
	}
	cancel()
	if err := <-errc; err == nil {
		t.Error("cancelled request succeeded")
	}
	deadline := time.After(5 * time.Second)
	for {
		ch := s.Changed()
		if in, done, aborted := s.Stats(); in == 0 {
			if done != 0 || aborted != 1 {
				t.Errorf("completed %d, aborted %d; want 0, 1", done, aborted)
			}
			return
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatal("aborted request still in flight")
		}
	}
}

func TestWords(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"one", []string{"one"}},
		{"one two  three", []string{"one", " two", "  three"}},
	} {
		got := Words(c.in)
		if strings.Join(got, "|") != strings.Join(c.want, "|") || Join(got) != c.in {
			t.Errorf("Words(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// With "store": true the answer is kept once generated, even though the
// client went away after the first chunk; before that, retrieval is 404.
// The model finishes generating when the test says (Pace), not after a
// time.
func TestServerStoresAnswer(t *testing.T) {
	s := New()
	defer s.Close()
	release := make(chan struct{})
	paced := make(chan int, 3)
	s.Script(func(Request) Reply {
		return Reply{Chunks: Words("one two three"), Pace: func(i int) {
			paced <- i
			if i == 2 {
				<-release
			}
		}}
	})
	body := `{"model":"m","stream":true,"store":true,"messages":[{"role":"user","content":"q"}]}`
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.URL()+"/chat/completions", strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Scan() // the first chunk, then the client goes away
	cancel()
	resp.Body.Close()
	get := func() (int, string) {
		resp, err := http.Get(s.URL() + "/chat/completions/chatcmpl-1")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var c struct {
			ID      string
			Choices []struct{ Message Message } `json:"choices"`
		}
		json.NewDecoder(resp.Body).Decode(&c)
		if resp.StatusCode != http.StatusOK {
			return resp.StatusCode, ""
		}
		return resp.StatusCode, c.Choices[0].Message.Content
	}
	if i := <-paced; i != 1 {
		t.Fatalf("first Pace call for chunk %d, want 1", i)
	}
	if i := <-paced; i != 2 {
		t.Fatalf("second Pace call for chunk %d, want 2", i)
	}
	// Chunk 2 is held: the answer is not generated yet.
	if code, _ := get(); code != http.StatusNotFound {
		t.Errorf("retrieval before the answer is generated: %d, want 404", code)
	}
	close(release)
	deadline := time.Now().Add(5 * time.Second)
	for {
		code, text := get()
		if code == http.StatusOK {
			if text != "one two three" {
				t.Errorf("stored answer %q", text)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("never stored (last status %d)", code)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if s.Count() != 1 || s.Retrievals() < 2 || !s.Requests()[0].Store {
		t.Errorf("count %d, retrievals %d, store %v", s.Count(), s.Retrievals(), s.Requests()[0].Store)
	}
	if code, _ := func() (int, string) {
		resp, err := http.Get(s.URL() + "/chat/completions/chatcmpl-9")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode, ""
	}(); code != http.StatusNotFound {
		t.Errorf("unknown id: %d, want 404", code)
	}
}

// Usage as OpenAI reports it: with stream_options.include_usage, "usage":
// null on every chunk and one last chunk with no choices and the counts
// (the script's, or one per word of the prompt and one per chunk); none
// in a stream that did not ask, none after a dropped stream, and in every
// JSON completion.
func TestServerReportsUsage(t *testing.T) {
	s := New()
	defer s.Close()
	type chunk struct {
		Choices []json.RawMessage `json:"choices"`
		Usage   *Usage            `json:"usage"`
	}
	streamed := func(includeUsage bool) (chunks []chunk, raw []map[string]any) {
		body := map[string]any{"model": "m", "stream": true,
			"messages": []Message{{Role: "system", Content: "be brief"}, {Role: "user", Content: "three words here"}}}
		if includeUsage {
			body["stream_options"] = map[string]any{"include_usage": true}
		}
		b, _ := json.Marshal(body)
		resp, err := http.Post(s.URL()+"/chat/completions", "application/json", strings.NewReader(string(b)))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			line, ok := strings.CutPrefix(sc.Text(), "data: ")
			if !ok || line == "[DONE]" {
				continue
			}
			var c chunk
			var m map[string]any
			json.Unmarshal([]byte(line), &c)
			json.Unmarshal([]byte(line), &m)
			chunks, raw = append(chunks, c), append(raw, m)
		}
		return chunks, raw
	}

	s.Script(Answer("a b c d"))
	chunks, raw := streamed(true)
	last := chunks[len(chunks)-1]
	if len(last.Choices) != 0 || last.Usage == nil || *last.Usage != (Usage{PromptTokens: 5, CompletionTokens: 4, TotalTokens: 9}) {
		t.Errorf("last chunk = %+v, want no choices and usage 5+4", last)
	}
	for i, m := range raw[:len(raw)-1] {
		if u, ok := m["usage"]; !ok || u != nil {
			t.Errorf("chunk %d: usage %v (present %v), want null", i, u, ok)
		}
	}
	if r := s.Requests()[0]; !r.IncludeUsage {
		t.Errorf("request = %+v, want IncludeUsage", r)
	}

	s.Script(func(Request) Reply {
		return Reply{Chunks: []string{"x"}, Usage: &Usage{PromptTokens: 60, CompletionTokens: 50}}
	})
	chunks, _ = streamed(true)
	if u := chunks[len(chunks)-1].Usage; u == nil || *u != (Usage{60, 50, 110}) {
		t.Errorf("scripted usage = %+v, want 60+50", u)
	}
	for name, reply := range map[string]Reply{"not asked": {Chunks: []string{"x"}}, "dropped": {Chunks: []string{"x"}, Drop: true},
		"none reported": {Chunks: []string{"x"}, NoUsage: true}} {
		s.Script(func(Request) Reply { return reply })
		_, raw := streamed(name != "not asked")
		for i, m := range raw {
			if m["usage"] != nil {
				t.Errorf("%s: chunk %d has usage %v", name, i, m["usage"])
			}
		}
	}

	s.Script(Answer("one two"))
	b, _ := json.Marshal(map[string]any{"model": "m", "messages": []Message{{Role: "user", Content: "q"}}})
	resp, err := http.Post(s.URL()+"/chat/completions", "application/json", strings.NewReader(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var c struct{ Usage Usage }
	json.NewDecoder(resp.Body).Decode(&c)
	if c.Usage != (Usage{1, 2, 3}) {
		t.Errorf("completion usage = %+v, want 1+2", c.Usage)
	}
}
