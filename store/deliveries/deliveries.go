// Package deliveries is the contract between route, which hands events to
// the connectors that hold their devices, and the connectors: one Redis
// pub/sub channel per connector (Channel), carrying Delivery messages.
//
// A Delivery is a plain message: the event's type, id and the attributes
// a connector renders (conversation, sender, device, agent) and its trace
// context (traceparent, tracestate), the devices
// it is for, and the event's data exactly as route received it — not
// re-encoded, and not a CloudEvent wrapped in another one. A connector
// decodes it once (Decode), and the event's data once more when it
// renders it for its sockets.
//
// Delivery is at most once (pub/sub): a connector that is not subscribed
// when a delivery is published misses it, and its devices catch up by
// syncing, which is why nothing is lost: messages are stored before they
// are routed.
//
// Redis publishes on the real service, Memory is the in-memory twin; one
// suite (suite_test.go) checks both.
package deliveries

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/tracing"
)

// Channel is the pub/sub channel of a connector, under the deployment's
// Redis prefix (REDIS_PREFIX).
func Channel(prefix, connectorID string) string { return prefix + "deliver:" + connectorID }

// Delivery is one event for the listed devices, which the connector it is
// published to holds.
type Delivery struct {
	Targets      []events.DeviceRef `json:"targets"`
	Type         string             `json:"type"`
	ID           string             `json:"id"`
	Source       string             `json:"source"`
	Conversation string             `json:"conversation,omitempty"`
	Sender       string             `json:"sender,omitempty"` // senderid
	Device       string             `json:"device,omitempty"` // deviceid
	Agent        string             `json:"agent,omitempty"`  // agentid
	// TraceParent and TraceState are the W3C trace context the delivery
	// belongs to (the CloudEvents distributed-tracing extension): the
	// event's, or — when the publisher traces — the publisher's span
	// (Publish). Empty when nobody traces.
	TraceParent string `json:"traceparent,omitempty"`
	TraceState  string `json:"tracestate,omitempty"`
	// Data is the event's data (JSON), as it came.
	Data json.RawMessage `json:"data"`
}

// Of is the delivery of e to targets, sharing e's data.
func Of(e event.Event, targets []events.DeviceRef) Delivery {
	ext := func(name string) string { s, _ := e.Extensions()[name].(string); return s }
	return Delivery{Targets: targets, Type: e.Type(), ID: e.ID(), Source: e.Source(),
		Conversation: ext(events.ExtConversationID), Sender: ext(events.ExtSenderID),
		Device: ext(events.ExtDeviceID), Agent: ext(events.ExtAgentID), Data: e.Data(),
		TraceParent: ext(tracing.ExtTraceParent), TraceState: ext(tracing.ExtTraceState)}
}

// Event is the event d carries, with its attributes as the catalog's
// constructors set them and its data as it came (not decoded here:
// events.Decode checks and decodes it once).
func (d Delivery) Event() event.Event {
	e := event.New()
	e.SetID(d.ID)
	e.SetType(d.Type)
	e.SetSource(d.Source)
	if d.Conversation != "" {
		e.SetSubject(d.Conversation)
		e.SetExtension(events.ExtConversationID, d.Conversation)
		e.SetExtension(events.ExtPartitionKey, d.Conversation)
	} else if d.Sender != "" {
		e.SetExtension(events.ExtPartitionKey, d.Sender) // an event about a device
	}
	for name, v := range map[string]string{events.ExtSenderID: d.Sender, events.ExtDeviceID: d.Device, events.ExtAgentID: d.Agent,
		tracing.ExtTraceParent: d.TraceParent, tracing.ExtTraceState: d.TraceState} {
		if v != "" {
			e.SetExtension(name, v)
		}
	}
	e.SetDataContentType(event.ApplicationJSON)
	e.DataEncoded = d.Data
	return e
}

// header is a Delivery without its data.
type header struct {
	Targets      []events.DeviceRef `json:"targets"`
	Type         string             `json:"type"`
	ID           string             `json:"id"`
	Source       string             `json:"source"`
	Conversation string             `json:"conversation,omitempty"`
	Sender       string             `json:"sender,omitempty"`
	Device       string             `json:"device,omitempty"`
	Agent        string             `json:"agent,omitempty"`
	TraceParent  string             `json:"traceparent,omitempty"`
	TraceState   string             `json:"tracestate,omitempty"`
}

// Encode is d as published. The data is copied in as it is: it must be
// valid JSON (an event's data that passed events.Validate is).
func Encode(d Delivery) ([]byte, error) {
	if len(d.Targets) == 0 || d.Type == "" || len(d.Data) == 0 {
		return nil, fmt.Errorf("deliveries: a delivery needs targets, a type and data")
	}
	h, err := json.Marshal(header{Targets: d.Targets, Type: d.Type, ID: d.ID, Source: d.Source,
		Conversation: d.Conversation, Sender: d.Sender, Device: d.Device, Agent: d.Agent,
		TraceParent: d.TraceParent, TraceState: d.TraceState})
	if err != nil {
		return nil, fmt.Errorf("deliveries: %w", err)
	}
	var b bytes.Buffer
	b.Grow(len(h) + len(d.Data) + 9)
	b.Write(h[:len(h)-1])
	b.WriteString(`,"data":`)
	b.Write(d.Data)
	b.WriteByte('}')
	return b.Bytes(), nil
}

// Decode reads a published delivery. Its data is kept as raw JSON for
// the one decoding of the event it carries.
func Decode(payload []byte) (Delivery, error) {
	var d Delivery
	if err := json.Unmarshal(payload, &d); err != nil {
		return d, fmt.Errorf("deliveries: %w", err)
	}
	if len(d.Targets) == 0 || d.Type == "" || len(d.Data) == 0 {
		return d, fmt.Errorf("deliveries: not a delivery: type %q, %d targets", d.Type, len(d.Targets))
	}
	return d, nil
}

// Publisher hands deliveries to connectors.
type Publisher interface {
	// Publish sends each connector its delivery on its Channel, all in one
	// round trip. At most once: a connector that is not subscribed at that
	// moment misses it. When the process traces (sdk/tracing), each
	// delivery goes in the trace of ctx's span (TraceParent).
	Publish(ctx context.Context, byConnector map[string]Delivery) error
}

// traced is byConnector with every delivery in the trace of ctx's span,
// when this process traces and ctx has one; otherwise byConnector as is.
func traced(ctx context.Context, byConnector map[string]Delivery) map[string]Delivery {
	if tracing.Tracer() == nil {
		return byConnector
	}
	tp, ts := tracing.Headers(ctx)
	if tp == "" {
		return byConnector
	}
	out := make(map[string]Delivery, len(byConnector))
	for c, d := range byConnector {
		d.TraceParent, d.TraceState = tp, ts
		out[c] = d
	}
	return out
}
