package connector

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/agentchat/agentchat/sdk/protocol"
)

// metrics are the connector's Prometheus series, on a registry of its own
// (never the global one: tests and the dev runner run several connectors in
// one process).
type metrics struct {
	connections    prometheus.Gauge
	framesIn       *prometheus.CounterVec // by frame type
	framesOut      *prometheus.CounterVec // by frame type
	eventsPosted   *prometheus.CounterVec // by event type
	eventsFailed   *prometheus.CounterVec // by event type
	deliveries     prometheus.Counter     // delivery events received from Redis
	deliveryDrops  *prometheus.CounterVec // by reason
	slowConsumers  prometheus.Counter
	authFailures   *prometheus.CounterVec // by reason
	closes         *prometheus.CounterVec // by close code
	resubscribes   prometheus.Counter
	presenceErrors prometheus.Counter
	// per-user limits (userlimit.go)
	userLimited     *prometheus.CounterVec // by frame type
	userLimitErrors prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	const ns, sub = "agentchat", "connector"
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: name, Help: help})
	}
	vec := func(name, help, label string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: name, Help: help}, []string{label})
	}
	m := &metrics{
		connections: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub,
			Name: "connections", Help: "Open WebSocket connections."}),
		framesIn:       vec("frames_in_total", "Frames received from clients, by type.", "type"),
		framesOut:      vec("frames_out_total", "Frames written to clients, by type.", "type"),
		eventsPosted:   vec("events_posted_total", "CloudEvents accepted by the sink, by type.", "type"),
		eventsFailed:   vec("events_failed_total", "CloudEvents the sink did not accept, by type.", "type"),
		deliveries:     counter("deliveries_total", "Delivery events received from Redis."),
		deliveryDrops:  vec("delivery_drops_total", "Deliveries or frames not written, by reason.", "reason"),
		slowConsumers:  counter("slow_consumer_closes_total", "Sockets closed because their outbound queue overflowed."),
		authFailures:   vec("auth_failures_total", "Upgrades refused, by reason.", "reason"),
		closes:         vec("closes_total", "Sockets closed, by close code.", "code"),
		resubscribes:   counter("resubscribes_total", "Times the delivery subscription was re-established."),
		presenceErrors: counter("presence_errors_total", "Failed presence writes to Redis."),
		userLimited:    vec("user_limited_total", "Frames refused by their user's rate limit (shared by every connector), by type.", "type"),
		userLimitErrors: counter("user_limit_errors_total",
			"Batches of per-user limit checks that failed (their frames were let through)."),
	}
	reg.MustRegister(m.connections, m.framesIn, m.framesOut, m.eventsPosted, m.eventsFailed, m.deliveries,
		m.deliveryDrops, m.slowConsumers, m.authFailures, m.closes, m.resubscribes, m.presenceErrors,
		m.userLimited, m.userLimitErrors)
	return m
}

// frameLabel keeps the type label's cardinality bounded: a client can send
// any string as a type.
func frameLabel(typ string) string {
	switch typ {
	case protocol.TypeSend, protocol.TypeDelivered, protocol.TypeRead, protocol.TypeTyping, protocol.TypeSync,
		protocol.TypePing, protocol.TypeHello, protocol.TypeStored, protocol.TypeMessage, protocol.TypeReceipt,
		protocol.TypeBatch, protocol.TypeAgent, protocol.TypeError, protocol.TypePong, protocol.TypeReconnect,
		protocol.TypeResync, protocol.TypeResume, protocol.TypeResumed,
		protocol.TypeUpload, protocol.TypeUploaded, protocol.TypeDownload, protocol.TypeMedia, protocol.TypePresence:
		return typ
	}
	return "other"
}
