package fn

import (
	"errors"
	"fmt"
	"net/http"

	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
)

// Status codes are delivery policy: Knative retries 5xx, 404, 408, 409,
// 429 and network errors, then dead-letters; any other 4xx is
// dead-lettered at once. So an event that can never succeed (malformed,
// over a limit, not this function's) is refused with 400, and a backend
// failure is returned as a plain error (func-go answers 500: retried).

// Refuse is the result for an event that can never be handled: 400, which
// the broker does not retry (the event goes to the dead-letter sink). The
// reason should name ids and types only, never content; Logged logs it.
func Refuse(format string, args ...any) error {
	return cehttp.NewResult(http.StatusBadRequest, format, args...)
}

// Unavailable is the result for an event this instance cannot handle yet
// (Start has not finished): 503, retried by the broker.
func Unavailable(format string, args ...any) error {
	return cehttp.NewResult(http.StatusServiceUnavailable, format, args...)
}

// StatusOf is the HTTP status func-go answers for a Handle error: the
// status of the first result in its chain (a broker's answer wrapped in
// a failed Send counts: a 503 from the broker is answered 503), 500 for
// any other error, 200 for nil.
func StatusOf(err error) int {
	if err == nil {
		return http.StatusOK
	}
	var r *cehttp.Result
	if errors.As(err, &r) {
		return r.StatusCode
	}
	return http.StatusInternalServerError
}

// IsRefusal reports whether err is a refusal: a 4xx that the broker
// dead-letters rather than retries.
func IsRefusal(err error) bool { return refused(StatusOf(err)) }

// refused reports whether the broker dead-letters an answer of status
// without retrying it.
func refused(status int) bool {
	switch status {
	case http.StatusNotFound, http.StatusRequestTimeout, http.StatusConflict, http.StatusTooManyRequests:
		return false
	default:
		return status >= 400 && status < 500
	}
}

// errorText is err's message, without cehttp's status decoration when
// err is a result itself.
func errorText(err error) string {
	if r, ok := err.(*cehttp.Result); ok {
		return fmt.Errorf(r.Format, r.Args...).Error()
	}
	return err.Error()
}
