package local

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/rickb777/date/period"
	eventingduckv1 "knative.dev/eventing/pkg/apis/duck/v1"
)

// policy is a Trigger's delivery spec, parsed once.
type policy struct {
	retry         int                       // retries after the first attempt
	backoff       func(n int) time.Duration // wait before retry n (1-based)
	timeout       time.Duration             // per attempt
	retryAfterMax time.Duration             // cap on a Retry-After header; 0 ignores it
	structured    bool                      // delivery.format: json
}

// newPolicy follows Knative's kncloudevents.RetryConfigFromDeliverySpec:
// retry n waits backoffDelay*n (linear) or backoffDelay*2^n (exponential);
// with no backoffDelay there is no wait; a backoffDelay without a policy is
// exponential. Without a timeout an attempt may take defaultTimeout.
func newPolicy(spec *eventingduckv1.DeliverySpec, defaultTimeout time.Duration) (policy, error) {
	p := policy{backoff: func(int) time.Duration { return 0 }, timeout: defaultTimeout}
	if spec == nil {
		return p, nil
	}
	if spec.Retry != nil {
		p.retry = int(*spec.Retry)
	}
	if spec.BackoffDelay != nil {
		delay, err := parseDuration(*spec.BackoffDelay)
		if err != nil {
			return p, fmt.Errorf("backoffDelay: %w", err)
		}
		if spec.BackoffPolicy != nil && *spec.BackoffPolicy == eventingduckv1.BackoffPolicyLinear {
			p.backoff = func(n int) time.Duration { return delay * time.Duration(n) }
		} else {
			p.backoff = func(n int) time.Duration { return delay * time.Duration(math.Exp2(float64(n))) }
		}
	}
	if spec.Timeout != nil {
		d, err := parseDuration(*spec.Timeout)
		if err != nil {
			return p, fmt.Errorf("timeout: %w", err)
		}
		if d > 0 {
			p.timeout = d
		}
	}
	if spec.RetryAfterMax != nil {
		d, err := parseDuration(*spec.RetryAfterMax)
		if err != nil {
			return p, fmt.Errorf("retryAfterMax: %w", err)
		}
		p.retryAfterMax = d
	}
	p.structured = spec.Format != nil && *spec.Format == eventingduckv1.DeliveryFormatJson
	return p, nil
}

// wait is how long to wait before retry n after a response with header h
// (nil for network errors). A Retry-After on 429 or 503 is honoured up to
// retryAfterMax when the Trigger sets one, as Knative does.
func (p policy) wait(n, code int, h http.Header) time.Duration {
	d := p.backoff(n)
	if p.retryAfterMax > 0 && (code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable) && h != nil {
		if secs, err := strconv.Atoi(h.Get("Retry-After")); err == nil && secs > 0 {
			ra := min(time.Duration(secs)*time.Second, p.retryAfterMax)
			d = max(d, ra)
		}
	}
	return d
}

// retryable is Knative's kncloudevents.SelectiveRetry: network errors
// (code <= 0 here, reported as 500), 5xx, 404, 408, 409 and 429 are
// retried; every other status, including 400 and 3xx, is final.
func retryable(code int) bool {
	return code <= 0 || code >= 500 || code == http.StatusNotFound || code == http.StatusRequestTimeout ||
		code == http.StatusConflict || code == http.StatusTooManyRequests
}

// parseDuration reads an ISO-8601 duration such as PT0.2S.
func parseDuration(s string) (time.Duration, error) {
	p, err := period.Parse(s)
	if err != nil {
		return 0, err
	}
	d, _ := p.Duration()
	return d, nil
}
