package backing

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// JaegerVersion is the Jaeger (v2, the all-in-one built on the OpenTelemetry
// Collector) the dev runner and the tests run. make jaeger and tests/run.sh
// build it once into the cache as bin/jaeger-<version> (tests/install-jaeger.sh).
const JaegerVersion = "v1.75.0"

// JaegerBinary is the cached Jaeger of JaegerVersion, or "" when it has not
// been built.
func JaegerBinary() string {
	cache := os.Getenv("AGENTCHAT_CACHE")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return ""
		}
		cache = filepath.Join(home, ".cache", "agentchat")
	}
	if p := filepath.Join(cache, "bin", "jaeger-"+JaegerVersion); isExecutable(p) {
		return p
	}
	return ""
}

// Jaeger is a running Jaeger: traces in memory, received over OTLP/HTTP.
type Jaeger struct {
	UI   string // http://host:port of the UI and the query API (/api/traces)
	OTLP string // http://host:port for OTEL_EXPORTER_OTLP_ENDPOINT
	p    *process
}

// Close stops Jaeger (its traces are gone).
func (j *Jaeger) Close() error { return j.p.stop() }

// jaegerConfig is the all-in-one's own configuration cut to what the dev
// runner needs, on free loopback ports instead of its fixed ones (4317,
// 4318, 16686, 8888, ...), so it runs beside anything: OTLP/HTTP in, memory
// storage, the query service (UI, HTTP API; gRPC API since it always
// listens), no metrics endpoint of its own. enable_tracing is off: on (its
// default) the query service traces itself to localhost:4317, which is not
// there, and its exit waits ten seconds on that export.
const jaegerConfig = `service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
extensions:
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: 100000
  jaeger_query:
    enable_tracing: false
    storage:
      traces: memstore
    http:
      endpoint: %s
    grpc:
      endpoint: %s
receivers:
  otlp:
    protocols:
      http:
        endpoint: %s
processors:
  batch:
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
`

// StartJaeger runs bin with jaegerConfig in dir (its config and log) and
// waits until the UI answers and the OTLP receiver listens. A port taken
// between choosing and binding it is retried on another.
func StartJaeger(ctx context.Context, bin, dir string) (*Jaeger, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("backing: jaeger dir: %w", err)
	}
	for attempt := 1; ; attempt++ {
		var addrs [3]string // UI, query gRPC, OTLP
		for i := range addrs {
			a, err := freeAddr()
			if err != nil {
				return nil, fmt.Errorf("backing: jaeger: %w", err)
			}
			addrs[i] = a
		}
		cfg := filepath.Join(dir, "jaeger.yaml")
		if err := os.WriteFile(cfg, fmt.Appendf(nil, jaegerConfig, addrs[0], addrs[1], addrs[2]), 0o644); err != nil {
			return nil, fmt.Errorf("backing: jaeger config: %w", err)
		}
		p, err := spawn("jaeger", filepath.Join(dir, "jaeger.log"), exec.Command(bin, "--config", cfg))
		if err != nil {
			return nil, err
		}
		j := &Jaeger{UI: "http://" + addrs[0], OTLP: "http://" + addrs[2], p: p}
		err = p.waitLive(ctx, j.UI+"/")
		if err == nil {
			err = p.waitListening(ctx, addrs[2])
		}
		if err == nil {
			return j, nil
		}
		p.stop()
		if attempt == 3 || !strings.Contains(err.Error(), "address already in use") {
			return nil, err
		}
	}
}

// waitListening waits until addr accepts a connection: the collector
// starts its receivers after its extensions (the UI), so the UI answering
// does not yet mean spans are received.
func (p *process) waitListening(ctx context.Context, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("backing: %s exited (%v): %s", p.name, p.err, p.tail())
		case <-ctx.Done():
			return fmt.Errorf("backing: %s not listening at %s: %w: %s", p.name, addr, ctx.Err(), p.tail())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
