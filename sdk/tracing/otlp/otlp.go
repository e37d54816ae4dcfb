// Package otlp turns agentchat's tracing on (sdk/tracing) from the
// standard OTEL_* variables, exporting spans over OTLP/HTTP (protobuf).
// It is the one place that reads them: sdk/fn calls Setup for every
// function, the connector's main for the connector, the dev runner New
// for its in-process broker.
package otlp

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/agentchat/agentchat/sdk/tracing"
)

// Setup reads the process environment and, when it asks for traces,
// installs a provider that exports them (tracing.Use). service names the process
// when OTEL_SERVICE_NAME is unset. The returned shutdown flushes what is
// buffered; it is a no-op when tracing is off.
func Setup(service string) (shutdown func(context.Context) error, err error) {
	tp, err := New(os.Getenv, service)
	if err != nil || tp == nil {
		return func(context.Context) error { return nil }, err
	}
	tracing.Use(tp)
	return tp.Shutdown, nil
}

// New builds a provider exporting over OTLP/HTTP (protobuf) as the OTEL_*
// variables getenv gives ask, or returns nil when they ask for none:
//
//   - OTEL_SDK_DISABLED=true, or OTEL_TRACES_EXPORTER=none: off;
//   - OTEL_TRACES_EXPORTER=otlp: on (endpoint default http://localhost:4318);
//   - OTEL_TRACES_EXPORTER unset: on when OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
//     or OTEL_EXPORTER_OTLP_ENDPOINT is set, else off;
//   - OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL: http/protobuf only (grpc is an
//     error, never silently another protocol);
//   - OTEL_SERVICE_NAME (default service), OTEL_TRACES_SAMPLER and
//     OTEL_TRACES_SAMPLER_ARG (default parentbased_always_on),
//     OTEL_BSP_SCHEDULE_DELAY (ms, default 5000).
//
// The exporter reads its other variables (OTEL_EXPORTER_OTLP_HEADERS,
// _TIMEOUT, _COMPRESSION, _CERTIFICATE) from the process environment, and
// the resource OTEL_RESOURCE_ATTRIBUTES.
func New(getenv func(string) string, service string) (*sdktrace.TracerProvider, error) {
	if strings.EqualFold(strings.TrimSpace(getenv("OTEL_SDK_DISABLED")), "true") {
		return nil, nil
	}
	endpoint := firstOf(getenv, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
	base := firstOf(getenv, "OTEL_EXPORTER_OTLP_ENDPOINT")
	switch exp := strings.ToLower(strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER"))); {
	case exp == "" && endpoint == "" && base == "":
		return nil, nil
	case exp == "" || exp == "otlp":
	case exp == "none":
		return nil, nil
	default:
		return nil, fmt.Errorf("tracing: OTEL_TRACES_EXPORTER=%s: only otlp (or none) is supported", exp)
	}
	if p := firstOf(getenv, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"); p != "" && p != "http/protobuf" {
		return nil, fmt.Errorf("tracing: OTEL_EXPORTER_OTLP_PROTOCOL=%s: only http/protobuf is supported", p)
	}
	if endpoint == "" {
		endpoint = strings.TrimSuffix(cmpOr(base, "http://localhost:4318"), "/") + "/v1/traces"
	}
	if _, err := url.Parse(endpoint); err != nil {
		return nil, fmt.Errorf("tracing: OTLP endpoint: %w", err)
	}
	sampler, err := samplerOf(getenv)
	if err != nil {
		return nil, err
	}
	delay := 5 * time.Second
	if v := firstOf(getenv, "OTEL_BSP_SCHEDULE_DELAY"); v != "" {
		ms, err := strconv.Atoi(v)
		if err != nil || ms < 0 {
			return nil, errors.New("tracing: OTEL_BSP_SCHEDULE_DELAY: not a number of milliseconds")
		}
		delay = time.Duration(ms) * time.Millisecond
	}
	exp, err := otlptracehttp.New(context.Background(), otlptracehttp.WithEndpointURL(endpoint))
	if err != nil {
		return nil, fmt.Errorf("tracing: OTLP exporter: %w", err)
	}
	res, err := resource.Merge(resource.Environment(),
		resource.NewSchemaless(attribute.String("service.name", cmpOr(firstOf(getenv, "OTEL_SERVICE_NAME"), service))))
	if err != nil {
		res = resource.Environment()
	}
	return sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp, sdktrace.WithBatchTimeout(delay)),
		sdktrace.WithSampler(sampler),
		sdktrace.WithResource(res),
	), nil
}

// samplerOf is OTEL_TRACES_SAMPLER with its argument, as the SDK reads it.
func samplerOf(getenv func(string) string) (sdktrace.Sampler, error) {
	ratio := func() (sdktrace.Sampler, error) {
		arg := firstOf(getenv, "OTEL_TRACES_SAMPLER_ARG")
		if arg == "" {
			return sdktrace.TraceIDRatioBased(1), nil
		}
		r, err := strconv.ParseFloat(arg, 64)
		if err != nil || r < 0 || r > 1 {
			return nil, errors.New("tracing: OTEL_TRACES_SAMPLER_ARG: not a ratio in [0, 1]")
		}
		return sdktrace.TraceIDRatioBased(r), nil
	}
	switch s := strings.ToLower(firstOf(getenv, "OTEL_TRACES_SAMPLER")); s {
	case "", "parentbased_always_on":
		return sdktrace.ParentBased(sdktrace.AlwaysSample()), nil
	case "always_on":
		return sdktrace.AlwaysSample(), nil
	case "always_off":
		return sdktrace.NeverSample(), nil
	case "parentbased_always_off":
		return sdktrace.ParentBased(sdktrace.NeverSample()), nil
	case "traceidratio":
		return ratio()
	case "parentbased_traceidratio":
		r, err := ratio()
		if err != nil {
			return nil, err
		}
		return sdktrace.ParentBased(r), nil
	default:
		return nil, fmt.Errorf("tracing: OTEL_TRACES_SAMPLER=%s is not supported", s)
	}
}

func firstOf(getenv func(string) string, names ...string) string {
	for _, n := range names {
		if v := strings.TrimSpace(getenv(n)); v != "" {
			return v
		}
	}
	return ""
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
