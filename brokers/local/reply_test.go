package local

import (
	"net/http"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/cloudevents/sdk-go/v2/types"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
)

func TestReplyIsRoutedByItsType(t *testing.T) {
	first := newSubscriber(t, func(_ int, e event.Event) (int, *event.Event) {
		r := newEvent("reply-of-"+e.ID(), "test.b", nil)
		return http.StatusOK, &r
	})
	second := newSubscriber(t, nil)
	b, url := start(t, Config{
		Broker: testBroker(t, ""),
		Triggers: []eventingv1.Trigger{
			trig(t, "first", "first", typeFilter("test.a"), ""),
			trig(t, "second", "second", typeFilter("test.b"), ""),
		},
		Subscribers: map[string]string{"first": first.URL(), "second": second.URL()},
	})
	if code, body := post(t, url, newEvent("e1", "test.a", nil), false); code != http.StatusAccepted {
		t.Fatalf("ingress: %d %s", code, body)
	}
	eventually(t, 5*time.Second, "the reply's delivery", func() bool { return delivered(b, "second", "test.b") == 1 })
	got := second.all()[0]
	if got.event.ID() != "reply-of-e1" {
		t.Errorf("second got %q, want reply-of-e1", got.event.ID())
	}
	// What a subscriber sees: binary mode, Knative's headers, an arrival
	// time, and no TTL (the broker keeps it to itself).
	for _, r := range append(first.all(), got) {
		if r.header.Get("Ce-Specversion") != "1.0" {
			t.Errorf("%s: not binary mode: %v", r.event.ID(), r.header)
		}
		if r.header.Get("Prefer") != "reply" {
			t.Errorf("%s: no Prefer: reply header", r.event.ID())
		}
		if _, ok := r.event.Extensions()["knativebrokerttl"]; ok {
			t.Errorf("%s: subscriber saw knativebrokerttl", r.event.ID())
		}
		if _, ok := r.event.Extensions()["knativearrivaltime"]; !ok {
			t.Errorf("%s: no knativearrivaltime", r.event.ID())
		}
	}
	if got := first.count(); got != 1 {
		t.Errorf("first got %d events, want 1 (the reply is not for it)", got)
	}
}

// A subscriber that answers every event with another of the same type
// would loop for ever; knativebrokerttl ends it. An event that enters
// with TTL n is decremented at ingress (as Knative's ingress does) and at
// every re-ingested reply, so it is delivered n-1 times.
func TestReplyLoopIsStoppedByTTL(t *testing.T) {
	for _, ttl := range []int{2, 5, 12} {
		t.Run("", func(t *testing.T) {
			loop := newSubscriber(t, func(n int, e event.Event) (int, *event.Event) {
				r := newEvent(e.ID()+"+", "test.loop", nil)
				return http.StatusOK, &r
			})
			b, url := start(t, Config{
				Broker:      testBroker(t, ""),
				Triggers:    []eventingv1.Trigger{trig(t, "loop", "loop", typeFilter("test.loop"), "")},
				Subscribers: map[string]string{"loop": loop.URL()},
			})
			post(t, url, newEvent("e", "test.loop", map[string]any{"knativebrokerttl": ttl}), false)
			// The last delivery is counted once its reply — the one dropped —
			// has been handled: wait for both, then check nothing more came.
			eventually(t, 5*time.Second, "the TTL drop and the last delivery counted", func() bool {
				return dropped(b, dropTTL, "", "test.loop") == 1 && delivered(b, "loop", "test.loop") >= ttl-1
			})
			if got, want := loop.count(), ttl-1; got != want {
				t.Errorf("deliveries: got %d, want %d", got, want)
			}
			if got, want := delivered(b, "loop", "test.loop"), ttl-1; got != want {
				t.Errorf("delivered metric: got %d, want %d", got, want)
			}
		})
	}
}

// Without a TTL an event gets DefaultTTL, so a loop runs DefaultTTL times.
func TestDefaultTTLBoundsALoop(t *testing.T) {
	loop := newSubscriber(t, func(n int, e event.Event) (int, *event.Event) {
		r := newEvent("r", "test.loop", nil)
		return http.StatusOK, &r
	})
	b, url := start(t, Config{
		Broker:      testBroker(t, ""),
		Triggers:    []eventingv1.Trigger{trig(t, "loop", "loop", typeFilter("test.loop"), "")},
		Subscribers: map[string]string{"loop": loop.URL()},
	})
	post(t, url, newEvent("e", "test.loop", nil), false)
	eventually(t, 10*time.Second, "the TTL drop", func() bool { return dropped(b, dropTTL, "", "test.loop") == 1 })
	if got, want := loop.count(), DefaultTTL; got != want {
		t.Errorf("deliveries: got %d, want %d", got, want)
	}
}

func TestMalformedReplyFailsTheDelivery(t *testing.T) {
	sub := newSubscriber(t, nil)
	// A 200 with a body that is not a CloudEvent: Knative's filter treats
	// it as a failed dispatch (502), so it is retried and dead-lettered.
	sub.handle = func(int, event.Event) (int, *event.Event) { return http.StatusOK, nil }
	bad := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sub.serve(discard{}, r)
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("hello"))
	})
	srv := newRawServer(t, bad)
	dls := newSubscriber(t, nil)
	b, url := start(t, Config{
		Broker:      testBroker(t, ""),
		Triggers:    []eventingv1.Trigger{trig(t, "t1", "bad", typeFilter("test.a"), "    retry: 1\n"+deadLetterDelivery)},
		Subscribers: map[string]string{"bad": srv, "deadletter": dls.URL()},
	})
	post(t, url, newEvent("e1", "test.a", nil), false)
	eventually(t, 5*time.Second, "dead letter", func() bool { return deadLettered(b, "t1", "test.a") == 1 })
	if got, want := sub.count(), 2; got != want {
		t.Errorf("attempts: got %d, want %d", got, want)
	}
	if got, _ := types.ToInteger(dls.all()[0].event.Extensions()["knativeerrorcode"]); got != http.StatusBadGateway {
		t.Errorf("knativeerrorcode: got %v, want 502", got)
	}
}
