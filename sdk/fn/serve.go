package fn

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"

	"github.com/agentchat/agentchat/sdk/tracing"
)

// MaxEventBytes bounds the HTTP body of one event a function accepts: a
// message to a group of 1,024 devices with its wrapped keys is about
// 200 KB, so this leaves room and still refuses a runaway body (413).
const MaxEventBytes = 4 << 20

// Serve answers one CloudEvent delivered over HTTP (binary or structured
// mode, as Knative's brokers and the dev runner's send it) with h: h's
// reply event in binary mode with 200; no reply, 200 with an empty body;
// an error, its status (StatusOf: 400 for a refusal, 500 for a plain
// failure, so that the broker retries) with the reason as text. A request
// that is not a valid CloudEvent is answered 400, a body over
// MaxEventBytes 413, a method other than POST 405. h runs with the
// request's own context, cancelled when the broker gives up on it.
//
// Serve also answers GET MetricsPath with the function's metrics, and
// counts every event it serves (metrics.go: by type and outcome, with the
// time to answer and the redeliveries). When tracing is on (the OTEL_*
// variables, trace.go), each event is served in a span "process <type>",
// a child of the event's traceparent, and a reply carries that span on.
//
// Functions serve their events through Serve from func-go's http runtime
// (func.yaml invoke: http) rather than through func-go's cloudevents
// runtime: the latter's receiver (the CloudEvents SDK's
// NewHTTPReceiveHandler) passes every request through one shared channel
// to whichever goroutine waits, so a handler can run with another
// request's context — cancelled when that request ends — and a request can
// be left with no goroutine to take it until the next one arrives
// (cloudevents/sdk-go#1224 and #1332, open as of v2.16.2). Under load that
// stalled one delivery at a time for up to a redelivery, and at the end of
// a burst left events in a function forever.
func Serve(w http.ResponseWriter, r *http.Request, h Handler) {
	if r.URL.Path == MetricsPath && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		metrics.handler.ServeHTTP(w, r)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "POST a CloudEvent", http.StatusMethodNotAllowed)
		return
	}
	start := time.Now()
	r.Body = http.MaxBytesReader(w, r.Body, MaxEventBytes)
	msg := cehttp.NewMessageFromHttpRequest(r)
	defer msg.Finish(nil)
	e, err := binding.ToEvent(r.Context(), msg)
	if err != nil {
		status := http.StatusBadRequest
		if _, tooBig := errors.AsType[*http.MaxBytesError](err); tooBig {
			status = http.StatusRequestEntityTooLarge
		}
		http.Error(w, "not a CloudEvent: "+err.Error(), status)
		metrics.badRequest()
		return
	}
	if err := e.Validate(); err != nil {
		http.Error(w, "not a valid CloudEvent: "+err.Error(), http.StatusBadRequest)
		metrics.badRequest()
		return
	}
	typ := typeLabel(e.Type())
	metrics.arrived(typ, e.Source(), e.ID())
	ctx, span := startSpan(r.Context(), e) // nil span: tracing is off
	status, err := answer(ctx, w, *e, h)
	endSpan(span, status, err)
	metrics.answered(typ, status, start)
}

// answer writes h's answer to e and returns its status, and h's error or
// the reply's. A reply carries the trace of ctx (its traceparent: the
// span Serve started for e, when tracing is on).
func answer(ctx context.Context, w http.ResponseWriter, e event.Event, h Handler) (int, error) {
	reply, err := h(ctx, e)
	if err != nil {
		status := StatusOf(err)
		http.Error(w, errorText(err), status)
		return status, err
	}
	if reply == nil {
		w.WriteHeader(http.StatusOK)
		return http.StatusOK, nil
	}
	if err := reply.Validate(); err != nil {
		// A bug of the handler's, not of the event: the broker retries.
		http.Error(w, "the reply is not a valid CloudEvent: "+err.Error(), http.StatusInternalServerError)
		return http.StatusInternalServerError, err
	}
	tracing.Inject(ctx, reply)
	_ = cehttp.WriteResponseWriter(ctx, binding.ToMessage(reply), http.StatusOK, w)
	return http.StatusOK, nil
}
