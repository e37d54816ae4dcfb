package local

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"go.opentelemetry.io/otel/trace"

	"github.com/agentchat/agentchat/sdk/events"
)

// maxErrorData bounds knativeerrordata: Knative's limit, in base64 chars.
const maxErrorData = 1024

// job is one event on its way to one Trigger's subscriber and, failing
// that, to the dead-letter sink.
type job struct {
	event   event.Event
	ttl     int32 // knativebrokerttl the event arrived with, given back to a reply
	retries int   // retries done in the current phase

	// Set once the subscriber is given up on: the job now goes to the
	// dead-letter sink, carrying what the last attempt reported.
	deadLetter bool
	errDest    string
	errCode    int
	errBody    []byte
}

// result is what one attempt reported.
type result struct {
	dest   string      // URL tried (or the Service's cluster URL when unresolved)
	code   int         // HTTP status; 500 for a network error, like Knative
	header http.Header // nil without a response
	body   []byte      // response body (error text for network errors)
	reply  *event.Event
}

func (r result) ok() bool { return r.code >= 200 && r.code < 300 }

// work delivers t's jobs until the broker stops.
func (b *Broker) work(t *trigger) {
	defer b.wg.Done()
	for {
		select {
		case <-b.ctx.Done():
			return
		case j := <-t.queue:
			b.process(t, j)
		}
	}
}

// process makes one attempt for j and decides what comes next: done,
// retry after a backoff (without holding a worker), dead-letter, or drop.
func (b *Broker) process(t *trigger, j *job) {
	if j.deadLetter {
		b.processDeadLetter(t, j)
		return
	}
	r := b.attempt(t, &t.subscriber, j.event, true)
	if r.ok() && r.reply != nil {
		if code, msg := b.handleReply(j, r.reply); code != 0 {
			r.code, r.body = code, []byte(msg)
		}
	}
	if b.ctx.Err() != nil { // Close gave up: the attempt was cut short
		return
	}
	log := b.log.With("trigger", t.name, "id", j.event.ID(), "type", j.event.Type(), "dest", r.dest)
	switch {
	case r.ok():
		b.m.delivered.WithLabelValues(t.name, j.event.Type()).Inc()
		log.Debug("delivered", "code", r.code, "retries", j.retries)
		b.finish(t)
	case retryable(r.code) && j.retries < t.policy.retry:
		j.retries++
		wait := t.policy.wait(j.retries, r.code, r.header)
		b.m.retried.WithLabelValues(t.name, j.event.Type()).Inc()
		log.Debug("delivery failed, will retry", "code", r.code, "retry", j.retries, "wait", wait)
		b.requeueAfter(t, j, wait)
	case t.deadLetter != nil:
		log.Warn("delivery failed, sending to dead-letter sink", "code", r.code, "retries", j.retries)
		j.deadLetter, j.retries = true, 0
		j.errDest, j.errCode, j.errBody = r.dest, r.code, r.body
		b.processDeadLetter(t, j)
	default:
		b.m.dropped.WithLabelValues(dropUndeliverable, t.name, j.event.Type()).Inc()
		log.Error("delivery failed and there is no dead-letter sink: event dropped", "code", r.code, "retries", j.retries)
		b.finish(t)
	}
}

// processDeadLetter sends j's event to the dead-letter sink with
// knativeerrordest, knativeerrorcode and knativeerrordata (the failing
// response body, base64, truncated as Knative does), retrying with the
// Trigger's policy. The sink's reply, if any, is ignored.
func (b *Broker) processDeadLetter(t *trigger, j *job) {
	e := j.event.Clone()
	e.SetExtension(events.ExtErrorDest, j.errDest)
	e.SetExtension(events.ExtErrorCode, j.errCode)
	data := base64.StdEncoding.EncodeToString(j.errBody)
	if len(data) > maxErrorData {
		data = data[:maxErrorData]
	}
	e.SetExtension(events.ExtErrorData, data)

	r := b.attempt(t, t.deadLetter, e, false)
	if b.ctx.Err() != nil {
		return
	}
	log := b.log.With("trigger", t.name, "id", e.ID(), "type", e.Type(), "dest", r.dest)
	switch {
	case r.ok():
		b.m.deadLettered.WithLabelValues(t.name, e.Type()).Inc()
		log.Warn("dead-lettered", "error_code", j.errCode)
		b.finish(t)
	case retryable(r.code) && j.retries < t.policy.retry:
		j.retries++
		b.m.retried.WithLabelValues(t.name, e.Type()).Inc()
		b.requeueAfter(t, j, t.policy.wait(j.retries, r.code, r.header))
	default:
		b.m.dropped.WithLabelValues(dropDeadLetterFailed, t.name, e.Type()).Inc()
		log.Error("dead-letter sink failed too: event dropped", "code", r.code, "error_code", j.errCode)
		b.finish(t)
	}
}

// handleReply re-ingests a subscriber's reply with the TTL of the event it
// answers (ingest decrements it). A reply that cannot be queued fails the
// delivery (429), so the original event is retried: at-least-once, as in
// Knative, where a reply the broker refuses fails the dispatch.
func (b *Broker) handleReply(j *job, reply *event.Event) (code int, msg string) {
	reply.SetExtension(events.ExtBrokerTTL, j.ttl)
	switch res, full := b.ingest(b.ctx, *reply, "reply"); res {
	case queueFull:
		return http.StatusTooManyRequests, "reply refused: queue of Trigger " + full + " is full"
	case closed:
		return http.StatusServiceUnavailable, "reply refused: broker stopped"
	}
	return 0, "" // admitted, or dropped for its TTL: both end this delivery
}

// requeueAfter puts j back on t's queue after d without holding a worker.
// The send cannot block: j still counts in t.pending, which never exceeds
// the queue's capacity.
func (b *Broker) requeueAfter(t *trigger, j *job, d time.Duration) {
	time.AfterFunc(d, func() { t.queue <- j })
}

func (b *Broker) finish(t *trigger) {
	t.pending.Add(-1)
	b.outstanding.Add(-1)
}

// attempt POSTs e to d once, in binary mode (structured when the policy
// says format: json), with Knative's Prefer: reply and Kn-Namespace
// headers, within the policy's timeout. With wantReply, a 2xx response
// must be empty or a CloudEvent (anything else counts as 502, as in
// Knative's broker filter).
func (b *Broker) attempt(t *trigger, d destinationRef, e event.Event, wantReply bool) (r result) {
	url, ok := b.resolve(d)
	r = result{dest: url}
	if !ok {
		r.code = http.StatusNotFound
		r.body = []byte(fmt.Sprintf("localbroker: no URL for %s yet (SetSubscriber)", url))
		return r
	}
	ctx, cancel := context.WithTimeout(b.ctx, t.policy.timeout)
	defer cancel()
	if b.cfg.Tracer != nil {
		var span trace.Span
		ctx, span = b.startAttemptSpan(ctx, t, url, &e)
		defer func() { endAttemptSpan(span, r) }()
	}
	if t.policy.structured {
		ctx = binding.WithForceStructured(ctx)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, nil)
	if err != nil {
		r.code, r.body = http.StatusInternalServerError, []byte("dispatch error: "+err.Error())
		return r
	}
	if err := cehttp.WriteRequest(ctx, binding.ToMessage(&e), req); err != nil {
		r.code, r.body = http.StatusInternalServerError, []byte("dispatch error: "+err.Error())
		return r
	}
	req.Header.Set("Prefer", "reply")
	req.Header.Set("Kn-Namespace", b.namespace)
	resp, err := b.client.Do(req)
	if err != nil {
		r.code, r.body = http.StatusInternalServerError, []byte("dispatch error: "+err.Error())
		return r
	}
	defer resp.Body.Close()
	r.code, r.header = resp.StatusCode, resp.Header
	body, err := io.ReadAll(io.LimitReader(resp.Body, b.cfg.MaxEventBytes+1))
	r.body = body
	if !r.ok() || !wantReply {
		return r
	}
	if err != nil {
		r.code, r.body = http.StatusInternalServerError, []byte("reading response: "+err.Error())
		return r
	}
	if int64(len(body)) > b.cfg.MaxEventBytes {
		r.code, r.body = http.StatusBadGateway, []byte(fmt.Sprintf("reply larger than %d bytes", b.cfg.MaxEventBytes))
		return r
	}
	msg := cehttp.NewMessage(resp.Header, io.NopCloser(bytes.NewReader(body)))
	defer func() { _ = msg.Finish(nil) }()
	if msg.ReadEncoding() == binding.EncodingUnknown {
		if len(body) > 0 {
			r.code, r.body = http.StatusBadGateway, []byte("non-empty response is not a CloudEvent: the response must be empty or a CloudEvent")
		}
		return r
	}
	reply, err := binding.ToEvent(ctx, msg)
	if err == nil {
		err = reply.Validate()
	}
	if err != nil {
		r.code, r.body = http.StatusBadGateway, []byte("malformed reply CloudEvent: "+err.Error())
		return r
	}
	r.reply = reply
	return r
}
