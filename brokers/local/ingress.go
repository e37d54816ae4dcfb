package local

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/cloudevents/sdk-go/v2/types"
	"knative.dev/eventing/pkg/eventfilter"

	"github.com/agentchat/agentchat/sdk/events"
)

// DefaultTTL is the knativebrokerttl an event gets when it arrives without
// one: the number of broker hops (deliveries in a reply chain) it may make.
const DefaultTTL = 255

// admission is what became of an event offered to the broker.
type admission int

const (
	admitted   admission = iota // queued for every Trigger it matches (maybe none)
	droppedTTL                  // knativebrokerttl ran out
	queueFull                   // a matching Trigger's queue is full; nothing was queued
	closed                      // the broker is shutting down
)

// serveIngress accepts one binary or structured CloudEvent.
func (b *Broker) serveIngress(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, b.cfg.MaxEventBytes)
	msg := cehttp.NewMessageFromHttpRequest(r)
	defer func() { _ = msg.Finish(nil) }()
	if msg.ReadEncoding() == binding.EncodingUnknown {
		b.m.rejected.WithLabelValues("invalid").Inc()
		http.Error(w, "localbroker: not a CloudEvent: send binary mode (ce-specversion, ce-id, ce-source, ce-type headers) "+
			"or structured mode (Content-Type: application/cloudevents+json)", http.StatusBadRequest)
		return
	}
	e, err := binding.ToEvent(r.Context(), msg)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			b.m.rejected.WithLabelValues("too_large").Inc()
			http.Error(w, fmt.Sprintf("localbroker: event larger than %d bytes", b.cfg.MaxEventBytes), http.StatusRequestEntityTooLarge)
			return
		}
		b.m.rejected.WithLabelValues("invalid").Inc()
		http.Error(w, "localbroker: malformed CloudEvent: "+err.Error(), http.StatusBadRequest)
		return
	}
	if err := e.Validate(); err != nil {
		b.m.rejected.WithLabelValues("invalid").Inc()
		http.Error(w, "localbroker: invalid CloudEvent: "+err.Error(), http.StatusBadRequest)
		return
	}
	switch res, full := b.ingest(r.Context(), *e, "ingress"); res {
	case admitted:
		w.WriteHeader(http.StatusAccepted)
	case droppedTTL:
		// What Knative's ingress answers too.
		http.Error(w, "localbroker: dropped: knativebrokerttl exhausted", http.StatusBadRequest)
	case queueFull:
		w.Header().Set("Retry-After", "1")
		http.Error(w, fmt.Sprintf("localbroker: queue of Trigger %s is full (%d events in flight); retry later",
			full, b.cfg.QueueSize), http.StatusTooManyRequests)
	case closed:
		http.Error(w, "localbroker: shutting down; retry on another broker", http.StatusServiceUnavailable)
	}
}

// ingest applies Knative's ingress rules to e and queues it for every
// Trigger it matches: knativearrivaltime is set; knativebrokerttl is set
// to DefaultTTL when absent (or not an integer) and decremented when
// present, and the event is dropped when it reaches 0. The TTL travels in
// the job, not in the event: subscribers never see it (Knative's filter
// strips it too) and a reply gets it back from the job. source is
// "ingress" or "reply"; replies are still admitted while Close drains.
// When the result is queueFull, full names the Trigger whose queue is full.
func (b *Broker) ingest(ctx context.Context, e event.Event, source string) (res admission, full string) {
	e.SetExtension(events.ExtArrivalTime, types.Timestamp{Time: time.Now().UTC()})
	ttl := int32(DefaultTTL)
	if raw, ok := e.Extensions()[events.ExtBrokerTTL]; ok {
		if v, err := types.ToInteger(raw); err == nil {
			ttl = max(v-1, 0)
		}
	}
	if ttl <= 0 {
		b.m.dropped.WithLabelValues(dropTTL, "", e.Type()).Inc()
		b.log.Warn("event dropped: knativebrokerttl exhausted (a reply loop?)", "id", e.ID(), "type", e.Type(), "source", source)
		return droppedTTL, ""
	}
	e.SetExtension(events.ExtBrokerTTL, nil)

	// A Trigger whose subscriber is not known (a function this machine
	// does not run: a test's subset, a dev runner without media) takes no
	// events, as a Knative Trigger whose subscriber does not resolve is not
	// Ready and gets none — rather than retrying each one until the
	// broker gives up or is closed.
	var matched []*trigger
	for _, t := range b.triggers {
		if _, ok := b.resolve(&t.subscriber); ok && t.filter.Filter(ctx, e) != eventfilter.FailFilter {
			matched = append(matched, t)
		}
	}

	b.admitMu.Lock()
	defer b.admitMu.Unlock()
	if b.stopped || (b.closing && source == "ingress") {
		b.m.rejected.WithLabelValues("closed").Inc()
		return closed, ""
	}
	// pending grows only here, under admitMu, so a check that passes
	// still holds when the jobs are queued below.
	for _, t := range matched {
		if t.pending.Load() >= int64(b.cfg.QueueSize) {
			b.m.rejected.WithLabelValues("queue_full").Inc()
			return queueFull, t.name
		}
	}
	for _, t := range matched {
		t.pending.Add(1)
		b.outstanding.Add(1)
		t.queue <- &job{event: e.Clone(), ttl: ttl}
	}
	b.m.accepted.WithLabelValues(e.Type(), source).Inc()
	b.log.Debug("event accepted", "id", e.ID(), "type", e.Type(), "source", source, "triggers", len(matched), "ttl", ttl)
	return admitted, ""
}
