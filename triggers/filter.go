package triggers

import (
	"go.uber.org/zap"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	"knative.dev/eventing/pkg/eventfilter"
	"knative.dev/eventing/pkg/eventfilter/attributes"
	"knative.dev/eventing/pkg/eventfilter/subscriptionsapi"
)

// NewFilter builds t's filter with Knative's own filter code, choosing the
// dialect the way Knative's broker does: a non-empty spec.filters (exact,
// prefix, suffix, all, any, not, cesql) replaces spec.filter.attributes;
// with neither, every event passes. An event is for t unless the result is
// eventfilter.FailFilter. The caller must call Cleanup when done.
func NewFilter(t *eventingv1.Trigger) eventfilter.Filter {
	if len(t.Spec.Filters) > 0 {
		return subscriptionsapi.CreateSubscriptionsAPIFilters(zap.NewNop(), t.Spec.Filters)
	}
	if t.Spec.Filter != nil && len(t.Spec.Filter.Attributes) > 0 {
		return attributes.NewAttributesFilter(t.Spec.Filter.Attributes)
	}
	return subscriptionsapi.NewNoFilter()
}
