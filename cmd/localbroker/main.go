// Command localbroker runs the local Knative-style broker (package
// brokers/local) with the embedded Broker and Trigger manifests, for one
// machine. It prints its base URL on stdout's first line (so a parent can
// start it on port 0), logs to stderr, and on SIGINT/SIGTERM stops
// accepting events, drains what it accepted, then exits.
//
//	localbroker -listen 127.0.0.1:0 -subscriber persist=http://127.0.0.1:8101 -subscriber route=http://127.0.0.1:8102
//
// Every flag has an environment variable (flags win): LOCALBROKER_LISTEN,
// LOCALBROKER_BROKER, LOCALBROKER_SUBSCRIBERS (name=url,name=url),
// LOCALBROKER_QUEUE_SIZE, LOCALBROKER_WORKERS, LOCALBROKER_DRAIN,
// LOCALBROKER_ADMIN, LOCALBROKER_LOG_LEVEL.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
