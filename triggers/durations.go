package triggers

import (
	"fmt"
	"strings"

	"github.com/rickb777/date/period"
	eventingduckv1 "knative.dev/eventing/pkg/apis/duck/v1"
)

// CheckDurations refuses delivery durations that Knative would read as
// something else than they say. Knative parses them with
// github.com/rickb777/date/period, which keeps tenths of a second only:
// backoffDelay PT0.05S passes Knative's validation and means no backoff
// at all. Validation alone does not catch it; this does.
func CheckDurations(spec *eventingduckv1.DeliverySpec) error {
	if spec == nil {
		return nil
	}
	for field, v := range map[string]*string{
		"backoffDelay": spec.BackoffDelay, "timeout": spec.Timeout, "retryAfterMax": spec.RetryAfterMax,
	} {
		if v == nil {
			continue
		}
		p, err := period.Parse(*v)
		if err != nil {
			continue // Validate reports it
		}
		if d, _ := p.Duration(); d == 0 && strings.ContainsAny(*v, "123456789") {
			return fmt.Errorf("delivery.%s %q reads as 0 in Knative's duration parser, which keeps tenths of a second only", field, *v)
		}
	}
	return nil
}
