package fn

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/agentchat/agentchat/sdk/events"
)

// MetricsPath is where Serve answers GET with the function's metrics in
// Prometheus's text format, on the function's own port: func-go passes
// every path but its /health/ ones to Handle. docs/operations.md lists
// the series.
const MetricsPath = "/metrics"

// Outcomes of a request to Serve: the outcome label. What the broker does
// next decides the name: ok is done, refused and bad_request are
// dead-lettered at once, failed is retried.
const (
	outcomeOK         = "ok"          // 200, with a reply or without
	outcomeRefused    = "refused"     // a 4xx that is not retried (Refuse)
	outcomeFailed     = "failed"      // 5xx, or 404, 408, 409, 429 (see refused)
	outcomeBadRequest = "bad_request" // not a valid CloudEvent, or over MaxEventBytes
)

// otherType is the type label of a type outside the catalog and of a
// request that is not a CloudEvent: a sender chooses the type, so only
// the catalog's types may become label values.
const otherType = "other"

// catalogTypes are the type label values besides otherType.
var catalogTypes = func() map[string]bool {
	m := make(map[string]bool, len(events.AllTypes))
	for _, t := range events.AllTypes {
		m[t] = true
	}
	return m
}()

func typeLabel(t string) string {
	if catalogTypes[t] {
		return t
	}
	return otherType
}

// redeliveryMemory is how many events the redelivery count remembers at
// least (seenIDs keeps two generations of this many).
const redeliveryMemory = 1 << 16

// serveMetrics are the series Serve keeps, on a registry of sdk/fn's own
// with the Go runtime's and the process's: a process is one function, so
// one set per process, and not the global default registry, which any
// linked library may write to.
type serveMetrics struct {
	events      *prometheus.CounterVec   // type, outcome
	duration    *prometheus.HistogramVec // type
	redelivered *prometheus.CounterVec   // type
	seen        *seenIDs
	handler     http.Handler // GET MetricsPath
}

var metrics = newServeMetrics()

func newServeMetrics() *serveMetrics {
	const ns, sub = "agentchat", "function"
	reg := prometheus.NewRegistry()
	m := &serveMetrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "events_total", Help: "Requests to the function's event endpoint, by CloudEvent type and outcome (ok, refused, failed, bad_request)."},
			[]string{"type", "outcome"}),
		// Up to 5 minutes: agent-invoke holds an event for a model call.
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub,
			Name: "event_duration_seconds", Help: "Time from an event's arrival to its answer, every outcome but bad_request, by CloudEvent type.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300}},
			[]string{"type"}),
		redelivered: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "events_redelivered_total", Help: "Events whose source and id this process had been given before (a redelivery, or a resend with the same id), by CloudEvent type."},
			[]string{"type"}),
		seen: newSeenIDs(redeliveryMemory),
	}
	reg.MustRegister(m.events, m.duration, m.redelivered,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.handler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
	return m
}

// arrived counts a redelivery of the event (source, id), if it is one.
func (m *serveMetrics) arrived(typ, source, id string) {
	if m.seen.seen(source, id) {
		m.redelivered.WithLabelValues(typ).Inc()
	}
}

// answered records an event of type typ answered status, which arrived
// at start.
func (m *serveMetrics) answered(typ string, status int, start time.Time) {
	outcome := outcomeOK
	switch {
	case status < 400:
	case refused(status):
		outcome = outcomeRefused
	default:
		outcome = outcomeFailed
	}
	m.events.WithLabelValues(typ, outcome).Inc()
	m.duration.WithLabelValues(typ).Observe(time.Since(start).Seconds())
}

// badRequest records a request that was not a valid CloudEvent.
func (m *serveMetrics) badRequest() {
	m.events.WithLabelValues(otherType, outcomeBadRequest).Inc()
}
