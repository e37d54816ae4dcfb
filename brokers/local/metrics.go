package local

import "github.com/prometheus/client_golang/prometheus"

// metrics are the broker's counters, on its own registry. Labels: type is
// the CloudEvent type, trigger the Trigger's name, source "ingress" for
// events posted over HTTP and "reply" for subscribers' replies.
type metrics struct {
	accepted     *prometheus.CounterVec // type, source
	rejected     *prometheus.CounterVec // reason: queue_full, closed, invalid, too_large
	delivered    *prometheus.CounterVec // trigger, type
	retried      *prometheus.CounterVec // trigger, type
	deadLettered *prometheus.CounterVec // trigger, type
	dropped      *prometheus.CounterVec // reason (ttl, undeliverable, deadletter_failed, shutdown), trigger, type
}

// Reasons an event is dropped.
const (
	dropTTL              = "ttl"               // knativebrokerttl ran out: a reply loop
	dropUndeliverable    = "undeliverable"     // retries exhausted and no dead-letter sink
	dropDeadLetterFailed = "deadletter_failed" // the dead-letter sink failed too
	dropShutdown         = "shutdown"          // Close's deadline passed first
)

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "agentchat", Subsystem: "localbroker", Name: name, Help: help,
		}, labels)
	}
	m := &metrics{
		accepted:     counter("events_accepted_total", "Events admitted to at least the routing step (202 or an accepted reply).", "type", "source"),
		rejected:     counter("events_rejected_total", "Events refused at ingress.", "reason"),
		delivered:    counter("deliveries_total", "Events a subscriber accepted with a 2xx.", "trigger", "type"),
		retried:      counter("retries_total", "Delivery attempts scheduled again after a retryable failure.", "trigger", "type"),
		deadLettered: counter("deadlettered_total", "Events a dead-letter sink accepted.", "trigger", "type"),
		dropped:      counter("events_dropped_total", "Events given up on.", "reason", "trigger", "type"),
	}
	for _, c := range []prometheus.Collector{m.accepted, m.rejected, m.delivered, m.retried, m.deadLettered, m.dropped} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
