package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"

	"github.com/agentchat/agentchat/brokers/local"
	"github.com/agentchat/agentchat/sdk/tracing"
	"github.com/agentchat/agentchat/sdk/tracing/otlp"
	"github.com/agentchat/agentchat/triggers"
)

func loadTriggers() ([]eventingv1.Trigger, error) { return triggers.Load() }

// run serves the broker until ctx ends, then drains it.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c, err := loadConfig(args, stderr)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: c.LogLevel}))
	bc, err := c.brokerConfig(log)
	if err != nil {
		return err
	}
	// Tracing, from the OTEL_* variables (docs/operations.md): a span per
	// delivery attempt; off when they ask for no exporter.
	flush, err := otlp.Setup("broker")
	if err != nil {
		return fmt.Errorf("localbroker: %w", err)
	}
	defer func() {
		fctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = flush(fctx)
	}()
	bc.Tracer = tracing.Tracer()
	b, err := local.New(bc)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", c.Listen)
	if err != nil {
		_ = b.Close(context.Background())
		return fmt.Errorf("localbroker: listen: %w", err)
	}
	base := "http://" + ln.Addr().String()
	fmt.Fprintln(stdout, base)

	mux := http.NewServeMux()
	mux.Handle("/", b.Handler())
	if c.Admin {
		mux.HandleFunc("PUT /admin/subscribers/{name}", func(w http.ResponseWriter, r *http.Request) {
			body, err := io.ReadAll(io.LimitReader(r.Body, 4096))
			u := strings.TrimSpace(string(body))
			if _, perr := url.ParseRequestURI(u); err != nil || perr != nil {
				http.Error(w, "localbroker: body must be the Service's URL", http.StatusBadRequest)
				return
			}
			b.SetSubscriber(r.PathValue("name"), u)
			log.Info("subscriber set", "name", r.PathValue("name"), "url", u)
			w.WriteHeader(http.StatusNoContent)
		})
		mux.HandleFunc("GET /admin/subscribers", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(b.Subscribers())
		})
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	log.Info("local broker serving", "url", base, "broker", c.Broker, "triggers", len(bc.Triggers),
		"subscribers", len(c.Subscribers), "queue_size", c.QueueSize, "workers", c.Workers)

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		_ = b.Close(context.Background())
		return fmt.Errorf("localbroker: serve: %w", err)
	case <-ctx.Done():
	}

	log.Info("shutting down: draining", "deadline", c.Drain)
	drainCtx, cancel := context.WithTimeout(context.Background(), c.Drain)
	defer cancel()
	closeErr := b.Close(drainCtx) // the ingress answers 503 meanwhile
	shutCtx, cancel2 := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel2()
	if err := srv.Shutdown(shutCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Warn("http shutdown", "err", err)
	}
	return closeErr
}
