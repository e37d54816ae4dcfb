// Package local is a Knative Broker for one machine: an HTTP ingress that
// routes CloudEvents to subscribers with the platform's own Trigger
// manifests, Knative's own filter code and Knative's delivery semantics —
// per-Trigger retries with linear or exponential backoff, per-request
// timeouts, a dead-letter sink with knativeerror* extensions, replies
// re-ingested with a decremented knativebrokerttl (which stops reply
// loops), and at-least-once delivery. On a cluster the real Broker does
// this; locally this package does, so the same function binaries and the
// same Trigger files run unchanged.
//
// Admission is bounded: each Trigger owns a queue of at most QueueSize
// events in flight (queued, being delivered or waiting for a retry). An
// event is admitted to all the Triggers it matches or to none; when one of
// their queues is full the ingress answers 429 and keeps nothing, so an
// event that got 202 is never dropped silently. Each Trigger has its own
// workers, so a slow subscriber delays only its own Trigger.
//
// Stopping loses nothing when done in this order: stop the producers
// outside (connectors), Drain (the work in flight finishes, and what
// subscribers post meanwhile is carried too), Close, and only then stop
// the subscribers. internal/platform does so.
package local

import (
	"context"
	"errors"
	"fmt"
	"go.opentelemetry.io/otel/trace"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	"knative.dev/eventing/pkg/eventfilter"
	duckv1 "knative.dev/pkg/apis/duck/v1"

	"github.com/agentchat/agentchat/triggers"
)

// Defaults for the zero values of Config.
const (
	DefaultQueueSize     = 1000
	DefaultWorkers       = 4
	DefaultTimeout       = 30 * time.Second
	DefaultMaxEventBytes = 1 << 20
)

// Config is what a Broker routes and how.
type Config struct {
	// Broker names the ingress path (/<namespace>/<name>); its
	// spec.delivery is the policy of every Trigger without its own, and
	// its dead-letter sink serves Triggers that name none.
	Broker eventingv1.Broker
	// Triggers whose spec.broker is Broker's name (others are an error).
	Triggers []eventingv1.Trigger
	// Subscribers maps a Service name (a subscriber or dead-letter ref) to
	// its base URL. More can be set later with SetSubscriber.
	Subscribers map[string]string
	// QueueSize bounds each Trigger's events in flight; default 1000.
	QueueSize int
	// Workers is how many deliveries run at once per Trigger; default 4.
	Workers int
	// DefaultTimeout is the per-request timeout when the delivery policy
	// sets none; default 30 s.
	DefaultTimeout time.Duration
	// MaxEventBytes bounds an ingress request and a reply; default 1 MiB.
	MaxEventBytes int64
	// Logger receives the broker's logs (ids, types, codes; never data).
	Logger *slog.Logger
	// Registry receives the metrics; a new one is made when nil.
	Registry *prometheus.Registry
	// Client sends deliveries; a pooled client that does not follow
	// redirects is made when nil.
	Client *http.Client
	// Tracer, when set, traces each delivery attempt in a span "deliver
	// <trigger>", the child of the event's traceparent, and the event
	// goes to the subscriber carrying that span (traceparent), as
	// Knative's broker does. nil: no spans; every extension, the
	// distributed-tracing ones included, still travels unchanged, on
	// deliveries and on replies.
	Tracer trace.Tracer
}

// Broker routes CloudEvents from its ingress to Trigger subscribers.
type Broker struct {
	cfg       Config
	log       *slog.Logger
	m         *metrics
	reg       *prometheus.Registry
	client    *http.Client
	namespace string
	name      string
	triggers  []*trigger

	subMu sync.RWMutex
	subs  map[string]string

	// admitMu makes admission all-or-nothing across Triggers and orders it
	// against Close: nothing is admitted from ingress once closing is set,
	// and nothing at all once stopped is set.
	admitMu     sync.Mutex
	closing     bool
	stopped     bool
	outstanding atomic.Int64 // jobs admitted and not finished, all Triggers

	ctx       context.Context // cancelled when Close gives up or is done
	cancel    context.CancelFunc
	wg        sync.WaitGroup // workers
	closeOnce sync.Once
	closeErr  error
}

// trigger is one Trigger's routing state.
type trigger struct {
	name       string
	filter     eventfilter.Filter
	subscriber duckv1.Destination
	deadLetter *duckv1.Destination // nil: none
	policy     policy
	queue      chan *job // capacity QueueSize; never blocks (see pending)
	pending    atomic.Int64
}

// New validates cfg, builds every Trigger's filter and policy, and starts
// the workers. The caller serves Handler and must call Close.
func New(cfg Config) (*Broker, error) {
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = DefaultQueueSize
	}
	if cfg.Workers <= 0 {
		cfg.Workers = DefaultWorkers
	}
	if cfg.DefaultTimeout <= 0 {
		cfg.DefaultTimeout = DefaultTimeout
	}
	if cfg.MaxEventBytes <= 0 {
		cfg.MaxEventBytes = DefaultMaxEventBytes
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	if cfg.Client == nil {
		cfg.Client = newClient(cfg.Workers)
	}
	if cfg.Broker.Name == "" || cfg.Broker.Namespace == "" {
		return nil, errors.New("localbroker: Config.Broker needs a name and a namespace")
	}
	m, err := newMetrics(cfg.Registry)
	if err != nil {
		return nil, fmt.Errorf("localbroker: metrics: %w", err)
	}
	b := &Broker{
		cfg: cfg, log: cfg.Logger.With("component", "localbroker"), m: m, reg: cfg.Registry,
		client: cfg.Client, namespace: cfg.Broker.Namespace, name: cfg.Broker.Name,
		subs: map[string]string{},
	}
	for name, u := range cfg.Subscribers {
		b.subs[name] = u
	}
	seen := map[string]bool{}
	for i := range cfg.Triggers {
		t, err := b.newTrigger(&cfg.Triggers[i])
		if err != nil {
			b.cleanup()
			return nil, err
		}
		if seen[t.name] {
			b.cleanup()
			return nil, fmt.Errorf("localbroker: Trigger %s given twice", t.name)
		}
		seen[t.name] = true
		b.triggers = append(b.triggers, t)
	}
	b.ctx, b.cancel = context.WithCancel(context.Background())
	for _, t := range b.triggers {
		cfg.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "agentchat", Subsystem: "localbroker", Name: "queue_depth",
			Help:        "Events in flight for a Trigger: queued, being delivered or waiting for a retry.",
			ConstLabels: prometheus.Labels{"trigger": t.name},
		}, func() float64 { return float64(t.pending.Load()) }))
		for range cfg.Workers {
			b.wg.Add(1)
			go b.work(t)
		}
	}
	return b, nil
}

func (b *Broker) newTrigger(tr *eventingv1.Trigger) (*trigger, error) {
	if tr.Spec.Broker != b.name {
		return nil, fmt.Errorf("localbroker: Trigger %s is for Broker %q, not %q", tr.Name, tr.Spec.Broker, b.name)
	}
	if tr.Spec.Subscriber.Ref == nil && tr.Spec.Subscriber.URI == nil {
		return nil, fmt.Errorf("localbroker: Trigger %s has no subscriber", tr.Name)
	}
	// Knative: the Trigger's delivery replaces the Broker's as a whole,
	// but a Trigger without a dead-letter sink falls back to the Broker's.
	spec := tr.Spec.Delivery
	if spec == nil {
		spec = b.cfg.Broker.Spec.Delivery
	}
	p, err := newPolicy(spec, b.cfg.DefaultTimeout)
	if err != nil {
		return nil, fmt.Errorf("localbroker: Trigger %s: delivery: %w", tr.Name, err)
	}
	t := &trigger{
		name: tr.Name, subscriber: tr.Spec.Subscriber, policy: p,
		queue: make(chan *job, b.cfg.QueueSize),
	}
	if d := tr.Spec.Delivery; d != nil && d.DeadLetterSink != nil {
		t.deadLetter = d.DeadLetterSink
	} else if d := b.cfg.Broker.Spec.Delivery; d != nil && d.DeadLetterSink != nil {
		t.deadLetter = d.DeadLetterSink
	}
	t.filter = triggers.NewFilter(tr)
	return t, nil
}

// SetSubscriber sets (or replaces) the base URL of the Service name, for
// subscribers and dead-letter sinks that start after the broker. Until a
// Trigger's subscriber has one, the Trigger takes no events (a Knative
// Trigger that is not Ready); a dead-letter sink with no URL fails like a
// 404.
func (b *Broker) SetSubscriber(name, url string) {
	b.subMu.Lock()
	b.subs[name] = url
	b.subMu.Unlock()
}

// Subscribers returns a copy of the Service name → URL map.
func (b *Broker) Subscribers() map[string]string {
	b.subMu.RLock()
	defer b.subMu.RUnlock()
	out := make(map[string]string, len(b.subs))
	for k, v := range b.subs {
		out[k] = v
	}
	return out
}

// Handler serves the ingress (POST / and POST /<namespace>/<broker>),
// /metrics, /healthz and /readyz (503 once Close has begun).
func (b *Broker) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /{$}", b.serveIngress)
	mux.HandleFunc("POST /{namespace}/{broker}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("namespace") != b.namespace || r.PathValue("broker") != b.name {
			http.Error(w, fmt.Sprintf("localbroker: no Broker %s/%s here (this is %s/%s)",
				r.PathValue("namespace"), r.PathValue("broker"), b.namespace, b.name), http.StatusNotFound)
			return
		}
		b.serveIngress(w, r)
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(b.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		b.admitMu.Lock()
		closing := b.closing
		b.admitMu.Unlock()
		if closing {
			http.Error(w, "localbroker: shutting down", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	return mux
}

// Close stops the ingress (new events get 503), lets the workers deliver
// everything admitted — retries, dead-lettering and replies included —
// until ctx ends, then stops the workers. It returns an error naming how
// many deliveries were left unfinished when ctx ended first. Close is
// idempotent.
func (b *Broker) Close(ctx context.Context) error {
	b.closeOnce.Do(func() { b.closeErr = b.close(ctx) })
	return b.closeErr
}

// Drain waits until no delivery is outstanding — every event admitted
// before or during the wait delivered, dead-lettered or dropped — or ctx
// ends, and then says how many were left. Unlike Close it keeps the
// ingress open and the broker running: it is for a platform that has
// stopped its producers outside (the connectors) and wants the work in
// flight finished before it stops the subscribers, including what they
// post while finishing it (an agent's answer sent to K_SINK). Call Close
// after it. Drain after Close returns at once: nothing will finish then.
func (b *Broker) Drain(ctx context.Context) error {
	b.admitMu.Lock()
	stopped := b.stopped
	b.admitMu.Unlock()
	if stopped {
		return nil
	}
	if err := b.waitIdle(ctx); err != nil {
		return fmt.Errorf("localbroker: drain: %d deliveries unfinished: %w", b.outstanding.Load(), err)
	}
	return nil
}

// waitIdle polls until nothing is outstanding or ctx ends.
func (b *Broker) waitIdle(ctx context.Context) error {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for b.outstanding.Load() > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
	return nil
}

func (b *Broker) close(ctx context.Context) error {
	b.admitMu.Lock()
	b.closing = true
	b.admitMu.Unlock()

	err := b.waitIdle(ctx)

	b.admitMu.Lock()
	b.stopped = true
	b.admitMu.Unlock()
	left := b.outstanding.Load()
	b.cancel()
	b.wg.Wait()
	b.cleanup()
	if left > 0 {
		b.m.dropped.WithLabelValues(dropShutdown, "", "").Add(float64(left))
		b.log.Error("closed with deliveries unfinished", "unfinished", left)
		return fmt.Errorf("localbroker: close: %d deliveries unfinished: %w", left, err)
	}
	b.log.Info("closed, all deliveries finished")
	return nil
}

func (b *Broker) cleanup() {
	for _, t := range b.triggers {
		t.filter.Cleanup()
	}
}

func newClient(workers int) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        256,
			MaxIdleConnsPerHost: 8 * workers, // several Triggers may share a subscriber
			IdleConnTimeout:     90 * time.Second,
		},
		// A redirect is a final answer (Knative does not retry 3xx).
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
