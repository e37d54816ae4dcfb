package tool_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cloudevents/sdk-go/v2/binding/format"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/fn"
	"github.com/agentchat/agentchat/sdk/tool"
)

// The lifecycle a tool gets from Function: 503 and not ready until Start
// has opened it; Start passes the configuration on and fails with the
// tool's name; Handle serves calls over HTTP; Stop closes what was opened.
func TestFunction(t *testing.T) {
	ctx := context.Background()
	var closed, pingErr error
	var gotCfg map[string]string
	failOpen := false
	f := tool.New("echo", func(_ context.Context, cfg map[string]string, log *slog.Logger) (tool.Parts, error) {
		gotCfg = cfg
		if failOpen {
			return tool.Parts{}, errors.New("config: ECHO_PREFIX is required")
		}
		return tool.Parts{
			Run:   func(_ context.Context, c tool.Call) (string, error) { return cfg["ECHO_PREFIX"] + c.Arguments, nil },
			Runs:  &memRuns{seen: map[string]bool{}},
			Ping:  func(context.Context) error { return pingErr },
			Close: func(context.Context) error { closed = errors.New("closed"); return nil },
		}, nil
	})
	e, err := events.NewToolCalled("conv-1", "dv-helper", "model", call(t, "echo", "tc-1"))
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := f.Ready(ctx); ok {
		t.Error("ready before Start")
	}
	if _, err := f.HandleEvent(ctx, e); fn.StatusOf(err) != http.StatusServiceUnavailable {
		t.Errorf("a call before Start: %v, want 503", err)
	}
	failOpen = true
	if err := f.Start(ctx, map[string]string{}); err == nil || !strings.HasPrefix(err.Error(), "echo-tool: config: ECHO_PREFIX") {
		t.Errorf("Start with a failing open = %v, want the tool's error named echo-tool", err)
	}
	if err := f.Start(ctx, map[string]string{"LOG_LEVEL": "loud"}); err == nil || !strings.Contains(err.Error(), "LOG_LEVEL") {
		t.Errorf("Start with a bad LOG_LEVEL = %v", err)
	}
	failOpen = false
	if err := f.Start(ctx, map[string]string{"ECHO_PREFIX": "> "}); err != nil || gotCfg["ECHO_PREFIX"] != "> " {
		t.Fatalf("Start = %v (open saw %v)", err, gotCfg)
	}
	if ok, err := f.Ready(ctx); !ok || err != nil {
		t.Errorf("Ready = %v %v after Start", ok, err)
	}
	pingErr = errors.New("mongo down")
	if ok, err := f.Ready(ctx); ok || err == nil {
		t.Errorf("Ready = %v %v with its store down", ok, err)
	}

	// Over HTTP, as the Trigger delivers it (structured mode).
	body, err := format.JSON.Marshal(&e)
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(string(body)))
	r.Header.Set("Content-Type", "application/cloudevents+json")
	f.Handle(w, r)
	if w.Code != http.StatusOK || w.Header().Get("Ce-Type") != events.TypeToolResult || !strings.Contains(w.Body.String(), `"content":"\u003e {\"q\":1}"`) {
		t.Errorf("Handle = %d %v %s, want the tool.result", w.Code, w.Header(), w.Body)
	}
	if err := f.Stop(ctx); err != nil || closed == nil {
		t.Errorf("Stop = %v, closed: %v", err, closed)
	}
	if _, err := f.HandleEvent(ctx, e); fn.StatusOf(err) != http.StatusServiceUnavailable {
		t.Errorf("a call after Stop: %v, want 503", err)
	}
}
