package modeltest

import (
	"bufio"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestToolCalls: a scripted answer with tool calls streams them as OpenAI
// does (first delta with id, type and name, then the arguments in pieces,
// finish_reason "tool_calls"), and the follow-up request that sends the
// results back is recorded with its tool_calls and tool messages.
func TestToolCalls(t *testing.T) {
	s := New()
	defer s.Close()
	calls := []ToolCall{{ID: "call_1", Name: "history", Arguments: `{"last": 5}`}, {ID: "call_2", Name: "http", Arguments: `{"url": "http://x/y"}`}}
	s.Script(Sequence(Reply{Chunks: []string{"let me look"}, ToolCalls: calls, ArgumentChunk: 4}, Reply{Chunks: Words("the answer")}))

	tools := []map[string]any{{"type": "function", "function": map[string]any{"name": "history", "description": "reads the conversation",
		"parameters": map[string]any{"type": "object"}}}}
	body, _ := json.Marshal(map[string]any{"model": "m", "stream": true, "tools": tools,
		"messages": []Message{{Role: "user", Content: "what did we say?"}}})
	resp, err := http.Post(s.URL()+"/chat/completions", "application/json", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	type fn struct{ Name, Arguments string }
	got := map[int]*ToolCall{}
	var content, finish string
	pieces := 0
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok || line == "[DONE]" {
			continue
		}
		var chunk struct {
			Choices []struct {
				Delta struct {
					Content   string `json:"content"`
					ToolCalls []struct {
						Index    int    `json:"index"`
						ID       string `json:"id"`
						Type     string `json:"type"`
						Function fn     `json:"function"`
					} `json:"tool_calls"`
				} `json:"delta"`
				FinishReason *string `json:"finish_reason"`
			} `json:"choices"`
		}
		if err := json.Unmarshal([]byte(line), &chunk); err != nil {
			t.Fatal(err)
		}
		for _, c := range chunk.Choices {
			content += c.Delta.Content
			if c.FinishReason != nil {
				finish = *c.FinishReason
			}
			for _, tc := range c.Delta.ToolCalls {
				if got[tc.Index] == nil {
					if tc.ID == "" || tc.Type != "function" || tc.Function.Name == "" {
						t.Errorf("the first delta of tool call %d = %+v, want id, type and name", tc.Index, tc)
					}
					got[tc.Index] = &ToolCall{ID: tc.ID, Name: tc.Function.Name}
				} else if tc.ID != "" || tc.Function.Name != "" {
					t.Errorf("a later delta of tool call %d repeats its id or name: %+v", tc.Index, tc)
				}
				if tc.Function.Arguments != "" {
					pieces++
				}
				got[tc.Index].Arguments += tc.Function.Arguments
			}
		}
	}
	if content != "let me look" || finish != "tool_calls" {
		t.Errorf("content %q, finish %q; want the content and tool_calls", content, finish)
	}
	if len(got) != 2 || *got[0] != calls[0] || *got[1] != calls[1] {
		t.Errorf("tool calls = %+v %+v, want %+v", got[0], got[1], calls)
	}
	if pieces < 5 {
		t.Errorf("the arguments came in %d pieces, want them split by 4 bytes", pieces)
	}
	if r := s.Requests()[0]; len(r.Tools) != 1 || r.Tools[0].Name != "history" || r.Tools[0].Description == "" || len(r.Tools[0].Parameters) == 0 {
		t.Errorf("recorded tools = %+v", r.Tools)
	}

	// The results go back as the assistant's tool_calls and one tool
	// message per call.
	body, _ = json.Marshal(map[string]any{"model": "m", "stream": false, "tools": tools, "messages": []Message{
		{Role: "user", Content: "what did we say?"},
		{Role: "assistant", ToolCalls: calls},
		{Role: "tool", ToolCallID: "call_1", Content: "nothing yet"},
		{Role: "tool", ToolCallID: "call_2", Content: "200 OK"},
	}})
	resp2, err := http.Post(s.URL()+"/chat/completions", "application/json", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	resp2.Body.Close()
	r := s.Requests()[1]
	if len(r.Messages) != 4 || len(r.Messages[1].ToolCalls) != 2 || r.Messages[1].ToolCalls[1] != calls[1] ||
		r.Messages[2].ToolCallID != "call_1" || r.Last("tool") != "200 OK" {
		t.Errorf("recorded messages = %+v", r.Messages)
	}
}
