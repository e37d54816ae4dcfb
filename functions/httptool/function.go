// Package function is http-tool, the example tool "http" of the model
// agents, written as its own trigger-bound function
// (triggers/http-tool.yaml): it calls an HTTP API the platform team
// allowed (HTTP_TOOL_ALLOW: URL prefixes) and answers with the status and
// the start of the body, as text for the model. Every request carries
// the call id (X-Agentchat-Tool-Call), so the API can dedupe too.
//
// sdk/tool does the rest: the function's lifecycle (tool.Function),
// decoding the call, running it once per call id (store/toolruns),
// replying io.agentchat.tool.result.
package function

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/agentchat/agentchat/sdk/fn"
	"github.com/agentchat/agentchat/sdk/tool"
	"github.com/agentchat/agentchat/store/toolruns"
)

// toolName is the tool this function is (its Trigger filters toolname).
const toolName = "http"

type config struct {
	// Allow lists the URL prefixes the tool may call, comma-separated
	// (e.g. https://api.example.com/v1/): scheme and host must be equal,
	// the path must start with the prefix's. Empty: it calls nothing.
	Allow    string        `env:"HTTP_TOOL_ALLOW"`
	Timeout  time.Duration `env:"HTTP_TOOL_TIMEOUT" default:"10s" min:"1ms"`
	MaxBytes int           `env:"HTTP_TOOL_MAX_BYTES" default:"16384" min:"1"`
}

// New is called once by the func runtime.
func New() *tool.Function { return tool.New(toolName, open) }

// open reads the allow-list and bounds, and opens tool_runs on MongoDB.
func open(ctx context.Context, m map[string]string, log *slog.Logger) (tool.Parts, error) {
	var c config
	if err := fn.Load(m, &c); err != nil {
		return tool.Parts{}, err
	}
	cl, err := newCaller(c.Allow, c.Timeout, c.MaxBytes)
	if err != nil {
		return tool.Parts{}, fmt.Errorf("config: HTTP_TOOL_ALLOW: %w", err)
	}
	db, runs, err := toolruns.Open(ctx, m, "agentchat-http-tool")
	if err != nil {
		return tool.Parts{}, err
	}
	log.Info("http-tool: allow-list", "prefixes", len(cl.allow))
	return tool.Parts{Run: cl.call, Runs: runs, Ping: db.Ping, Close: db.Close}, nil
}
