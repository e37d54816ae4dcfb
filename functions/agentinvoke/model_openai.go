package function

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"
)

// openAIModel calls any OpenAI-compatible endpoint (OpenAI, Ollama, vLLM,
// llama.cpp's server, ...) through github.com/openai/openai-go, with the
// client's own retries off: a retry here is a decision about calling the
// model twice, and the turn makes it (only for refused requests).
type openAIModel struct {
	http *http.Client

	mu      sync.Mutex
	clients map[string]openai.Client // by base URL and API key
}

var _ model = (*openAIModel)(nil)

func newOpenAIModel() *openAIModel {
	return &openAIModel{clients: map[string]openai.Client{}, http: &http.Client{
		// No overall timeout: an answer streams for as long as the turn's
		// context allows. Connecting must be quick, though.
		Transport: &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			TLSHandshakeTimeout: 10 * time.Second,
			MaxIdleConnsPerHost: 16,
			IdleConnTimeout:     90 * time.Second,
		},
	}}
}

func (m *openAIModel) client(c endpoint) openai.Client {
	key := c.BaseURL + "\x00" + c.APIKey
	m.mu.Lock()
	defer m.mu.Unlock()
	if cl, ok := m.clients[key]; ok {
		return cl
	}
	opts := []option.RequestOption{option.WithHTTPClient(m.http), option.WithMaxRetries(0), option.WithAPIKey(c.APIKey)}
	if c.BaseURL != "" {
		opts = append(opts, option.WithBaseURL(c.BaseURL))
	}
	cl := openai.NewClient(opts...)
	m.clients[key] = cl
	return cl
}

func (m *openAIModel) Stream(ctx context.Context, req modelRequest, onStart, onDelta func(string)) (answer, error) {
	msgs := make([]openai.ChatCompletionMessageParamUnion, 0, len(req.Messages))
	for _, cm := range req.Messages {
		switch {
		case cm.Role == roleSystem:
			msgs = append(msgs, openai.SystemMessage(cm.Content))
		case cm.Role == roleAssistant && len(cm.ToolCalls) > 0:
			msgs = append(msgs, assistantToolCalls(cm))
		case cm.Role == roleAssistant:
			msgs = append(msgs, openai.AssistantMessage(cm.Content))
		case cm.Role == roleTool:
			msgs = append(msgs, openai.ToolMessage(cm.Content, cm.ToolCallID))
		default:
			msgs = append(msgs, openai.UserMessage(cm.Content))
		}
	}
	// The usage comes in one more chunk, with no choices, before [DONE]
	// (OpenAI's stream_options; compatible servers that ignore it report
	// none, and the turn is recorded as unreported).
	params := openai.ChatCompletionNewParams{Model: req.Endpoint.Model, Messages: msgs,
		StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}}
	if req.MaxTokens > 0 {
		params.MaxTokens = openai.Int(int64(req.MaxTokens))
	}
	for _, t := range req.Tools {
		params.Tools = append(params.Tools, openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{
			Name: t.Name, Description: openai.String(t.Description), Parameters: t.Parameters}))
	}
	if req.Store {
		params.Store = openai.Bool(true)
	}
	cl := m.client(req.Endpoint)
	stream := cl.Chat.Completions.NewStreaming(ctx, params)
	defer stream.Close()
	var text strings.Builder
	var used tokenUsage
	var calls []toolCall // by the index the stream gives each
	for stream.Next() {
		chunk := stream.Current()
		if onStart != nil {
			onStart(chunk.ID)
			onStart = nil
		}
		for _, choice := range chunk.Choices {
			if choice.Index != 0 {
				continue
			}
			if choice.Delta.Content != "" {
				text.WriteString(choice.Delta.Content)
				onDelta(choice.Delta.Content)
			}
			// A tool call streams as a first delta with its index, id and
			// name, then its arguments in pieces under the same index.
			for _, d := range choice.Delta.ToolCalls {
				i := int(d.Index)
				if i < 0 || i >= maxToolCalls {
					continue
				}
				for len(calls) <= i {
					calls = append(calls, toolCall{})
				}
				if d.ID != "" {
					calls[i].ID = d.ID
				}
				calls[i].Name += d.Function.Name
				calls[i].Arguments += d.Function.Arguments
			}
		}
		if chunk.JSON.Usage.Valid() {
			used = usageOf(chunk.Usage)
		}
	}
	if err := stream.Err(); err != nil {
		return answer{Text: text.String()}, classify(ctx, err, text.Len() > 0)
	}
	return answer{Text: text.String(), ToolCalls: calls, Usage: used}, nil
}

// maxToolCalls bounds the tool calls one model answer may make.
const maxToolCalls = 16

// assistantToolCalls is an assistant message that made tool calls, sent
// back with their results.
func assistantToolCalls(cm chatMessage) openai.ChatCompletionMessageParamUnion {
	a := openai.ChatCompletionAssistantMessageParam{}
	if cm.Content != "" {
		a.Content.OfString = openai.String(cm.Content)
	}
	for _, c := range cm.ToolCalls {
		a.ToolCalls = append(a.ToolCalls, openai.ChatCompletionMessageToolCallUnionParam{
			OfFunction: &openai.ChatCompletionMessageFunctionToolCallParam{ID: c.ID,
				Function: openai.ChatCompletionMessageFunctionToolCallFunctionParam{Name: c.Name, Arguments: c.Arguments}}})
	}
	return openai.ChatCompletionMessageParamUnion{OfAssistant: &a}
}

func usageOf(u openai.CompletionUsage) tokenUsage {
	return tokenUsage{Prompt: u.PromptTokens, Completion: u.CompletionTokens, Reported: true}
}

func (m *openAIModel) Retrieve(ctx context.Context, e endpoint, completion string) (answer, bool, error) {
	cl := m.client(e)
	cc, err := cl.Chat.Completions.Get(ctx, completion)
	var apiErr *openai.Error
	switch {
	case errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusNotFound:
		return answer{}, false, nil
	case errors.As(err, &apiErr):
		return answer{}, false, errors.New("retrieve the completion: status " + strconv.Itoa(apiErr.StatusCode))
	case err != nil:
		return answer{}, false, fmt.Errorf("retrieve the completion: %w", err)
	}
	for _, choice := range cc.Choices {
		if choice.Index == 0 && choice.FinishReason != "" {
			a := answer{Text: choice.Message.Content}
			for _, c := range choice.Message.ToolCalls {
				a.ToolCalls = append(a.ToolCalls, toolCall{ID: c.ID, Name: c.Function.Name, Arguments: c.Function.Arguments})
			}
			if cc.JSON.Usage.Valid() {
				a.Usage = usageOf(cc.Usage)
			}
			return a, true, nil
		}
	}
	return answer{}, false, nil // not finished yet
}

// classify turns a failed request into the error the user sees and says
// whether the endpoint refused it (so it may be sent again).
func classify(ctx context.Context, err error, streamed bool) *modelError {
	e := &modelError{Code: codeModelError, Message: "the model could not answer", Retryable: true, Err: err}
	var apiErr *openai.Error
	var opErr *net.OpError
	switch {
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded):
		e.Code, e.Message = codeTimeout, "the model did not answer in time"
	case errors.Is(err, context.Canceled) || ctx.Err() != nil:
		e.Code, e.Message = codeInterrupted, "the agent was interrupted; ask again"
	case errors.As(err, &apiErr):
		e.Err = errors.New("status " + strconv.Itoa(apiErr.StatusCode)) // the body may quote the prompt
		e.Status = apiErr.StatusCode
		switch code := apiErr.StatusCode; {
		case code == http.StatusTooManyRequests:
			e.Code, e.Message, e.Refused = codeRateLimited, "the model is busy (rate limited); ask again later", true
			if apiErr.Response != nil {
				e.RetryAfter = retryAfter(apiErr.Response.Header)
			}
		case code == http.StatusServiceUnavailable:
			e.Code, e.Message, e.Refused = codeUnavailable, "the model is unavailable; ask again later", true
			if apiErr.Response != nil {
				e.RetryAfter = retryAfter(apiErr.Response.Header)
			}
		case code == http.StatusUnauthorized || code == http.StatusForbidden:
			e.Message, e.Retryable = "the agent's model refused its credentials", false
		case code >= 400 && code < 500:
			e.Message, e.Retryable = "the model refused the request", false
		}
	case errors.As(err, &opErr) && opErr.Op == "dial":
		e.Code, e.Message, e.Refused = codeUnavailable, "the model is unreachable; ask again later", true
	case streamed:
		e.Message = "the model's answer broke off"
	}
	if streamed {
		e.Refused, e.Status = false, 0 // content arrived: the model ran
	}
	return e
}

// retryAfter reads Retry-After (seconds or an HTTP date) or OpenAI's
// retry-after-ms; 0 when absent or unreadable.
func retryAfter(h http.Header) time.Duration {
	if ms, err := strconv.ParseFloat(h.Get("Retry-After-Ms"), 64); err == nil && ms > 0 {
		return time.Duration(ms * float64(time.Millisecond))
	}
	v := h.Get("Retry-After")
	if s, err := strconv.ParseFloat(v, 64); err == nil && s > 0 {
		return time.Duration(s * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(0, time.Until(t))
	}
	return 0
}
