// Command connector runs agentchat's WebSocket connector: configuration
// from the environment (see connector.Config), JSON logs on stderr, and a
// graceful drain on SIGTERM or SIGINT (reconnect hints, close 1012, exit).
package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/kelseyhightower/envconfig"

	"github.com/agentchat/agentchat/connector"
	"github.com/agentchat/agentchat/sdk/tracing/otlp"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	if err := run(log); err != nil {
		log.Error("connector: exit", "err", err)
		os.Exit(1)
	}
}

func run(log *slog.Logger) error {
	var cfg connector.Config
	if err := envconfig.Process("", &cfg); err != nil {
		return fmt.Errorf("connector: config: %w", err)
	}
	if cfg.ConnectorID == "" {
		cfg.ConnectorID = connector.DefaultConnectorID()
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	// Tracing, from the OTEL_* variables (docs/operations.md); off when
	// they ask for no exporter. The spans still buffered go out on exit.
	flush, err := otlp.Setup("connector")
	if err != nil {
		return fmt.Errorf("connector: %w", err)
	}
	defer func() {
		fctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = flush(fctx)
	}()

	srv, closeRedis, err := connector.Open(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer closeRedis()
	ln, err := net.Listen("tcp", cfg.ListenAddress)
	if err != nil {
		return fmt.Errorf("connector: listen: %w", err)
	}
	log.Info("connector: listening", "id", srv.ID(), "url", "ws://"+ln.Addr().String()+connector.WebSocketPath)
	fmt.Printf("connector listening on ws://%s%s\n", ln.Addr(), connector.WebSocketPath)

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		srv.Close()
		return err
	case <-ctx.Done():
	}
	stop() // a second signal kills the process the default way
	log.Info("connector: signal received; draining")
	if err := srv.Drain(context.Background()); err != nil {
		return err
	}
	err = <-served
	log.Info("connector: stopped")
	return err
}
