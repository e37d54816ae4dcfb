package e2e

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/agentchat/agentchat/internal/modeltest"
	"github.com/agentchat/agentchat/internal/otlptest"
	"github.com/agentchat/agentchat/internal/testenv"
	"github.com/agentchat/agentchat/sdk/e2ee"
	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/protocol"
)

// tracedEnv turns tracing on for every process of the platform, as an
// operator does: the standard OTEL_* variables, pointing at a local
// OTLP/HTTP receiver (protobuf, as a collector or Jaeger receives it).
func tracedEnv(t *testing.T) (*otlptest.Receiver, map[string]string) {
	r := otlptest.Start()
	t.Cleanup(r.Close)
	return r, map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT": r.URL(),
		"OTEL_BSP_SCHEDULE_DELAY":     "100", // ms: the test reads spans soon after they end
	}
}

// chain is one trace's spans, walked by parent links.
type chain []otlptest.Span

// child is the span of service named name whose parent is p (and that
// matches attrs), or an error that says what is missing.
func (c chain) child(p otlptest.Span, service, name string, attrs ...string) (otlptest.Span, error) {
next:
	for _, s := range c {
		if s.ParentID != p.SpanID || s.Service != service || s.Name != name {
			continue
		}
		for i := 0; i+1 < len(attrs); i += 2 {
			if s.Attrs[attrs[i]] != attrs[i+1] {
				continue next
			}
		}
		return s, nil
	}
	return otlptest.Span{}, fmt.Errorf("no span %s/%q %v under %s/%q", service, name, attrs, p.Service, p.Name)
}

// path follows steps (service, name) down from root, each the child of
// the one before; it returns the spans found.
func (c chain) path(root otlptest.Span, steps ...[2]string) ([]otlptest.Span, error) {
	out := []otlptest.Span{root}
	for _, st := range steps {
		s, err := c.child(out[len(out)-1], st[0], st[1])
		if err != nil {
			return out, err
		}
		out = append(out, s)
	}
	return out, nil
}

// rootSpan waits for the span of service named name whose attribute key
// is value, and returns it.
func rootSpan(t *testing.T, r *otlptest.Receiver, service, name, key, value string) otlptest.Span {
	t.Helper()
	var root otlptest.Span
	testenv.Eventually(t, 30*time.Second, 50*time.Millisecond, func() bool {
		for _, s := range r.Spans() {
			if s.Service == service && s.Name == name && s.Attrs[key] == value {
				root = s
				return true
			}
		}
		return false
	}, "span %s %q with %s=%s", service, name, key, value)
	return root
}

// waitPath waits until root's trace holds steps as a chain of parent links.
func waitPath(t *testing.T, r *otlptest.Receiver, root otlptest.Span, steps ...[2]string) []otlptest.Span {
	t.Helper()
	var (
		got []otlptest.Span
		err error
	)
	deadline := time.Now().Add(30 * time.Second)
	for {
		got, err = chain(r.Trace(root.TraceID)).path(root, steps...)
		if err == nil {
			return got
		}
		if time.Now().After(deadline) {
			var b strings.Builder
			for _, s := range r.Trace(root.TraceID) {
				fmt.Fprintf(&b, "\n  %s/%q span %s parent %s", s.Service, s.Name, s.SpanID, s.ParentID)
			}
			t.Fatalf("trace %s: %v; it has:%s", root.TraceID, err, b.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// One trace per message: alice's send, through the broker, persist, route,
// the delivery to bob's socket, and bob's delivered ack — through persist
// and route again to alice's delivered tick — every span the child of the
// one before, in the process that did the work.
func TestTraceOfAMessage(t *testing.T) {
	r, otel := tracedEnv(t)
	e := start(t, opts{connectors: 1, functions: spineFunctions, env: otel})
	ctx := context.Background()
	alice, bob := signup(t, e, "alice"), signup(t, e, "bob")
	conv, err := alice.sess.CreateConversation(ctx, "direct", []string{alice.id, bob.id}, "")
	if err != nil {
		t.Fatal(err)
	}
	dial := func(u *person) *websocket.Conn {
		tok, err := u.sess.Token(ctx)
		if err != nil {
			t.Fatal(err)
		}
		ws, _, err := dialRaw(e.p.ConnectorURLs()[0], tok)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ws.Close() })
		expectFrame(t, ws, "hello")
		return ws
	}
	wa, wb := dial(alice), dial(bob)
	wa.WriteJSON(map[string]any{"type": "send", "id": "m-1", "conversation": conv.ID, "envelope": sealFor(t, ctx, alice, conv.ID, "m-1")})
	expectFrame(t, wa, protocol.TypeStored)
	if f := expectFrame(t, wb, protocol.TypeMessage); f.Seq != 1 {
		t.Fatalf("bob got seq %d, want 1", f.Seq)
	}
	wb.WriteJSON(map[string]any{"type": "delivered", "conversation": conv.ID, "seq": 1})
	if f := expectFrame(t, wa, protocol.TypeReceipt); f.Kind != "delivered" || f.Seq != 1 {
		t.Fatalf("alice got %+v, want bob's delivered of seq 1", f)
	}

	sendID := events.MessageID(alice.id, alice.sess.DeviceID(), "m-1")
	root := rootSpan(t, r, "connector", "frame send", "cloudevents.event_id", sendID)
	if root.ParentID != "" {
		t.Errorf("the send's span has parent %s, want a new trace", root.ParentID)
	}
	spans := waitPath(t, r, root,
		[2]string{"broker", "deliver persist"},
		[2]string{"persist", "process " + events.TypeMessageSent},
		[2]string{"broker", "deliver route"},
		[2]string{"route", "process " + events.TypeMessageStored},
		[2]string{"connector", "deliver " + events.TypeMessageStored},
		[2]string{"connector", "frame delivered"}, // bob's ack, in the message's trace
		[2]string{"broker", "deliver persist"},
		[2]string{"persist", "process " + events.TypeReceiptDelivered},
		[2]string{"broker", "deliver route"},
		[2]string{"route", "process " + events.TypeReceiptDelivered},
		[2]string{"connector", "deliver " + events.TypeReceiptDelivered}, // alice's ✓✓
	)
	for _, s := range spans {
		if s.TraceID != root.TraceID {
			t.Errorf("%s/%q in trace %s, want %s", s.Service, s.Name, s.TraceID, root.TraceID)
		}
		if s.Error {
			t.Errorf("%s/%q has an error status", s.Service, s.Name)
		}
	}
	if got := spans[2].Attrs["cloudevents.event_id"]; got != sendID {
		t.Errorf("persist's span is about event %s, want %s", got, sendID)
	}
	if got := spans[6].Attrs["agentchat.user"]; got != bob.id {
		t.Errorf("the ack's span is bob's? user %q, want %q", got, bob.id)
	}
}

// An agent's reply in the trace of the message that asked for it: route's
// span → the broker → agent-invoke → the model call, a span with
// OpenTelemetry's GenAI attributes (operation, model, token usage); and
// the reply the agent sends goes on in the same trace to persist.
func TestTraceOfAnAgentReply(t *testing.T) {
	r, otel := tracedEnv(t)
	model := modeltest.New()
	t.Cleanup(model.Close)
	key, _ := e2ee.GenerateKey()
	e := start(t, opts{functions: []string{"accounts", "persist", "route", "agent-invoke", "deadletter"}, env: otel,
		envFor: map[string]map[string]string{"agent-invoke": {
			"OPENAI_BASE_URL": model.URL(), "OPENAI_API_KEY": "sk-test", "OPENAI_MODEL": "test-model",
			"AGENT_SYSTEM_PROMPT": "You are Helper.", "AGENT_KEYS": "helper:" + base64.StdEncoding.EncodeToString(key.Bytes()),
		}}})
	ctx := context.Background()
	owner, alice := signup(t, e, "owner"), signup(t, e, "alice")
	if _, err := owner.sess.RegisterAgent(ctx, "Helper", "model", key.PublicKey(), "helper"); err != nil {
		t.Fatal(err)
	}
	conv, err := alice.sess.CreateConversation(ctx, "group", []string{"helper"}, "traced")
	if err != nil {
		t.Fatal(err)
	}
	ca := alice.dial(t, e)
	wa := watch(ca)
	seq := send(t, ca, wa, conv.ID, "hello, helper")
	testenv.Eventually(t, 30*time.Second, 50*time.Millisecond, func() bool { return len(wa.messages(conv.ID, "helper")) > 0 }, "the agent's reply")

	root := rootSpan(t, r, "route", "process "+events.TypeMessageStored, "cloudevents.event_id",
		events.DeriveID("stored", conv.ID, fmt.Sprint(seq)))
	spans := waitPath(t, r, root,
		[2]string{"broker", "deliver agent-invoke"},
		[2]string{"agent-invoke", "process " + events.TypeAgentInvoke},
		[2]string{"agent-invoke", "chat test-model"},
	)
	call := spans[len(spans)-1]
	for k, want := range map[string]string{
		"gen_ai.operation.name": "chat", "gen_ai.request.model": "test-model", "gen_ai.provider.name": "openai",
	} {
		if got := call.Attrs[k]; got != want {
			t.Errorf("model call span: %s = %q, want %q", k, got, want)
		}
	}
	for _, k := range []string{"gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens"} {
		if call.Attrs[k] == "" || call.Attrs[k] == "0" {
			t.Errorf("model call span: %s = %q, want the usage the endpoint reported", k, call.Attrs[k])
		}
	}
	// The reply (a message.sent of the agent's) is posted in the invoke's
	// trace and stored by persist in it.
	invoke := spans[2]
	waitPath(t, r, invoke,
		[2]string{"broker", "deliver persist"},
		[2]string{"persist", "process " + events.TypeMessageSent},
	)
	// And all of it in the trace of alice's send, which began at her
	// connector.
	send := chain(r.Trace(root.TraceID))
	if _, err := send.child(otlptest.Span{}, "connector", "frame send", "cloudevents.event_subject", conv.ID); err != nil {
		t.Errorf("the stored message's trace does not start with alice's send: %v", err)
	}
}
