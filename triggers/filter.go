package triggers

import (
	"context"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	"knative.dev/eventing/pkg/eventfilter"
	"knative.dev/eventing/pkg/eventfilter/attributes"
	"knative.dev/eventing/pkg/eventfilter/subscriptionsapi"
)

// NewFilter builds t's filter the way Knative's broker does: a non-empty
// spec.filters (exact, prefix, suffix, all, any, not, cesql) replaces
// spec.filter.attributes; with neither, every event passes. An event is
// for t unless the result is eventfilter.FailFilter. The caller must call
// Cleanup when done.
//
// The leaves (attributes, exact, prefix, suffix, not, cesql) are Knative's
// own filters. all and any are Knative's semantics (same short circuits,
// same results, checked against subscriptionsapi.CreateSubscriptionsAPIFilters
// in filter_test.go) without Knative's reordering goroutine: that one bumps
// a counter that Filter copies without synchronisation, a data race that
// `go test -race` reports in every program routing through a Trigger with
// filters, and it buys nothing for tables this small.
func NewFilter(t *eventingv1.Trigger) eventfilter.Filter {
	if len(t.Spec.Filters) > 0 {
		return newAll(materializeList(t.Spec.Filters))
	}
	if t.Spec.Filter != nil && len(t.Spec.Filter.Attributes) > 0 {
		return attributes.NewAttributesFilter(t.Spec.Filter.Attributes)
	}
	return subscriptionsapi.NewNoFilter()
}

// materialize mirrors subscriptionsapi.MaterializeSubscriptionsAPIFilter.
// It returns nil for an expression Knative's validation would refuse.
func materialize(f eventingv1.SubscriptionsAPIFilter) eventfilter.Filter {
	var (
		out eventfilter.Filter
		err error
	)
	switch {
	case len(f.Exact) > 0:
		out, err = subscriptionsapi.NewExactFilter(f.Exact)
	case len(f.Prefix) > 0:
		out, err = subscriptionsapi.NewPrefixFilter(f.Prefix)
	case len(f.Suffix) > 0:
		out, err = subscriptionsapi.NewSuffixFilter(f.Suffix)
	case len(f.All) > 0:
		out = newAll(materializeList(f.All))
	case len(f.Any) > 0:
		out = newAny(materializeList(f.Any))
	case f.Not != nil:
		inner := materialize(*f.Not)
		if inner == nil {
			return nil
		}
		out = subscriptionsapi.NewNotFilter(inner)
	case f.CESQL != "":
		out, err = subscriptionsapi.NewCESQLFilter(f.CESQL)
	}
	if err != nil {
		return nil
	}
	return out
}

// materializeList skips expressions that do not materialize, as Knative does.
func materializeList(fs []eventingv1.SubscriptionsAPIFilter) []eventfilter.Filter {
	out := make([]eventfilter.Filter, 0, len(fs))
	for _, f := range fs {
		if m := materialize(f); m != nil {
			out = append(out, m)
		}
	}
	return out
}

type allFilter []eventfilter.Filter
type anyFilter []eventfilter.Filter

func newAll(fs []eventfilter.Filter) eventfilter.Filter {
	if len(fs) == 1 {
		return fs[0]
	}
	return allFilter(fs)
}

func newAny(fs []eventfilter.Filter) eventfilter.Filter {
	if len(fs) == 1 {
		return fs[0]
	}
	return anyFilter(fs)
}

// Filter fails at the first failing expression, else returns the last
// result (so an all of NoFilters is NoFilter), as Knative's allFilter.
func (fs allFilter) Filter(ctx context.Context, e cloudevents.Event) eventfilter.FilterResult {
	res := eventfilter.NoFilter
	for _, f := range fs {
		if res = f.Filter(ctx, e); res == eventfilter.FailFilter {
			return res
		}
	}
	return res
}

// Filter passes at the first passing expression, else returns the last
// result, as Knative's anyFilter.
func (fs anyFilter) Filter(ctx context.Context, e cloudevents.Event) eventfilter.FilterResult {
	res := eventfilter.NoFilter
	for _, f := range fs {
		if res = f.Filter(ctx, e); res == eventfilter.PassFilter {
			return res
		}
	}
	return res
}

func (fs allFilter) Cleanup() {
	for _, f := range fs {
		f.Cleanup()
	}
}

func (fs anyFilter) Cleanup() {
	for _, f := range fs {
		f.Cleanup()
	}
}
