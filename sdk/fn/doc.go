// Package fn is a small toolkit for writing agentchat's functions (Knative
// functions in func-go's instanced form: New, Start, Stop, Ready, Alive,
// Handle). It holds what every function used to copy: posting events to
// the broker (Sink), who caused an event (Actor), refusing an event that
// can never be handled (Refuse: 400, dead-lettered, not retried), typed
// configuration read from func's config map (Load), the JSON logger
// (NewLogger), Handle wrappers, one concern each (Logged, Only, Mux), and
// Serve, the one HTTP entry point of every function's events, which also
// keeps and serves the function's metrics (metrics.go, GET /metrics).
//
// It depends on nothing but the SDK, cloudevents, Prometheus's client and
// OpenTelemetry (tracing, trace.go: on only when the OTEL_* variables ask
// for an exporter): no database driver.
// Package fntest has the helpers for tests of functions.
package fn
