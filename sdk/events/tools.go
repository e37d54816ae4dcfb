package events

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"

	"github.com/cloudevents/sdk-go/v2/event"
)

// Tools: a model agent's runtime (agent-invoke) posts tool.called for each
// tool call its model makes; the tool is a function bound by a Trigger to
// tool.called filtered by toolname, and its reply is tool.result, which
// the agentkind Trigger brings back to the runtime (docs/agents.md, "Add
// a tool in minutes"). Both are about the conversation the agent answers
// in, sent as the agent (its id and device).
const (
	TypeToolCalled = "io.agentchat.tool.called"
	TypeToolResult = "io.agentchat.tool.result"

	// ExtToolName is the tool a tool.called or tool.result is for: a tool
	// function's Trigger filters on it.
	ExtToolName = "toolname"
)

// The tool events join the catalog here, next to their data, so that the
// tool contract reads in one file.
func init() {
	catalog[TypeToolCalled] = spec{actor: true, agent: true, data: func() dataer { return new(ToolCalled) }}
	catalog[TypeToolResult] = spec{actor: true, agent: true, data: func() dataer { return new(ToolResult) }}
	AllTypes = append(AllTypes, TypeToolCalled, TypeToolResult)
}

// InClear reports whether the data of events of type typ is conversation
// content in clear: the tool events (the arguments a model wrote, what a
// tool answered), which agent-invoke and the tool functions exchange
// inside the platform. Every other event's content is end-to-end
// encrypted. Whatever keeps events (the dead-letter store) keeps only the
// metadata of these.
func InClear(typ string) bool { return typ == TypeToolCalled || typ == TypeToolResult }

// toolNamePattern is OpenAI's rule for function names, which is also a
// valid extension value.
var toolNamePattern = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

// ValidToolName reports whether s can name a tool: 1–64 of letters,
// digits, _ and - (what OpenAI accepts as a function name).
func ValidToolName(s string) bool { return toolNamePattern.MatchString(s) }

// ToolCalled is the data of TypeToolCalled: run tool Tool with Arguments
// for the agent's answer to the message at ReplyTo. CallID is the
// idempotency key: a tool runs at most once per call id, however often
// the event is delivered.
type ToolCalled struct {
	CallID  string `json:"callId"`
	Tool    string `json:"tool"`
	AgentID string `json:"agentId"`
	ReplyTo int64  `json:"replyTo"`
	// Arguments is the JSON object the model wrote, as it wrote it (the
	// tool checks it against its schema: a model may write anything).
	Arguments string `json:"arguments"`
}

// ToolResult is the data of TypeToolResult: what the tool call CallID
// gave, as the text the model reads. Error marks Content as an error
// message (the model is told the call failed and may try otherwise).
type ToolResult struct {
	CallID  string `json:"callId"`
	Tool    string `json:"tool"`
	AgentID string `json:"agentId"`
	ReplyTo int64  `json:"replyTo"`
	Content string `json:"content"`
	Error   bool   `json:"error,omitempty"`
}

func (d *ToolCalled) check() error {
	if !ValidID(d.CallID) || !ValidToolName(d.Tool) || !ValidID(d.AgentID) || d.ReplyTo < 1 {
		return fmt.Errorf("callId, tool, agentId and replyTo are required")
	}
	return nil
}

func (d *ToolResult) check() error {
	if !ValidID(d.CallID) || !ValidToolName(d.Tool) || !ValidID(d.AgentID) || d.ReplyTo < 1 {
		return fmt.Errorf("callId, tool, agentId and replyTo are required")
	}
	return nil
}

// ToolCallID is the call id of the index-th tool call of step (0, 1, ...:
// the model requests) of agent's answer to the message at seq: the same
// call always gets the same id, so a runtime that takes the answer over
// posts the very same tool.called.
func ToolCallID(conversation string, seq int64, agent string, step, index int) string {
	return "tc-" + DeriveID("tool-call", conversation, strconv.FormatInt(seq, 10), agent, strconv.Itoa(step), strconv.Itoa(index))
}

// NewToolCalled is what an agent's runtime posts for one tool call, as
// the agent (sender, device) of kind in conversation. Its id is fixed by
// the call id: posting it again is the same event.
func NewToolCalled(conversation, device, kind string, d ToolCalled) (event.Event, error) {
	e, err := New(TypeToolCalled, DeriveID("tool-called", d.CallID),
		Meta{Source: SourceAgentPrefix + d.AgentID, Conversation: conversation, Sender: d.AgentID, Device: device, AgentID: d.AgentID}, d)
	if err == nil {
		StampAgent(&e, d.AgentID, kind)
		e.SetExtension(ExtToolName, d.Tool)
	}
	return e, err
}

// NewToolResult is a tool's reply to call (a tool.called): the result,
// addressed back to the agent's runtime (the call's agentid and
// agentkind) in the call's conversation. Its id is fixed by the call id.
func NewToolResult(call event.Event, content string, isError bool) (event.Event, error) {
	c, err := Decode[ToolCalled](call)
	if err != nil {
		return event.Event{}, err
	}
	ext := func(name string) string { s, _ := call.Extensions()[name].(string); return s }
	d := ToolResult{CallID: c.CallID, Tool: c.Tool, AgentID: c.AgentID, ReplyTo: c.ReplyTo, Content: content, Error: isError}
	source := call.Source()
	if tool := ext(ExtToolName); tool != "" {
		source = "/agentchat/tool/" + tool
	}
	e, err := New(TypeToolResult, DeriveID("tool-result", c.CallID),
		Meta{Source: source, Conversation: ext(ExtConversationID), Sender: ext(ExtSenderID), Device: ext(ExtDeviceID), AgentID: c.AgentID}, d)
	if err == nil {
		StampAgent(&e, c.AgentID, ext(ExtAgentKind))
		e.SetExtension(ExtToolName, c.Tool)
	}
	return e, err
}

// MarshalArguments is args as the JSON a ToolCalled carries.
func MarshalArguments(args any) (string, error) {
	b, err := json.Marshal(args)
	return string(b), err
}
