//go:build !race

// Knative's own all/any filters race with themselves (their reordering
// goroutine swaps filters while Cleanup reads them), so this comparison
// runs only without the race detector.

package triggers

import (
	"context"
	"testing"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"go.uber.org/zap"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	"knative.dev/eventing/pkg/eventfilter/subscriptionsapi"
	"sigs.k8s.io/yaml"
)

// NewFilter must decide exactly as Knative's CreateSubscriptionsAPIFilters.
// Each Knative filter is built fresh and used once.
func TestNewFilterAgreesWithKnative(t *testing.T) {
	ctx := context.Background()
	for _, fy := range filterCases {
		var fs []eventingv1.SubscriptionsAPIFilter
		if err := yaml.UnmarshalStrict([]byte(fy), &fs); err != nil {
			t.Fatalf("%s: %v", fy, err)
		}
		tr := &eventingv1.Trigger{Spec: eventingv1.TriggerSpec{Filters: fs}}
		if err := eventingv1.ValidateSubscriptionAPIFiltersList(ValidationContext(ctx), fs); err != nil {
			t.Fatalf("%s: invalid: %v", fy, err)
		}
		mine := NewFilter(tr)
		for _, ev := range filterEvents {
			e := cloudevents.NewEvent()
			e.SetID("1")
			e.SetSource("/s")
			e.SetType(ev.typ)
			if ev.agentkind != "" {
				e.SetExtension("agentkind", ev.agentkind)
			}
			kn := subscriptionsapi.CreateSubscriptionsAPIFilters(zap.NewNop(), fs)
			want := kn.Filter(ctx, e)
			kn.Cleanup()
			if got := mine.Filter(ctx, e); got != want {
				t.Errorf("%s on %s/%s: got %v, want %v (Knative)", fy, ev.typ, ev.agentkind, got, want)
			}
		}
		mine.Cleanup()
	}
}
