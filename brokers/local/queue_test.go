package local

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/event"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
)

// With a blocked subscriber, its Trigger's queue fills and the ingress
// answers 429, admitting the event to none of its Triggers; everything
// that got 202 is delivered once the subscriber recovers.
func TestFullQueueRejectsAndLosesNothing(t *testing.T) {
	const queueSize = 5
	release := make(chan struct{})
	slow := newSubscriber(t, func(int, event.Event) (int, *event.Event) {
		<-release
		return http.StatusOK, nil
	})
	released := false
	t.Cleanup(func() {
		if !released {
			close(release)
		}
	})
	fast := newSubscriber(t, nil)
	b, url := start(t, Config{
		Broker: testBroker(t, ""),
		Triggers: []eventingv1.Trigger{
			trig(t, "slow", "slow", typeFilter("test.a"), ""),
			trig(t, "fast", "fast", typeFilter("test.a"), ""),
			trig(t, "other", "fast", typeFilter("test.other"), ""),
		},
		Subscribers: map[string]string{"slow": slow.URL(), "fast": fast.URL()},
		QueueSize:   queueSize,
		Workers:     1,
	})
	var accepted []string
	var rejected int
	for i := 0; i < 3*queueSize; i++ {
		id := fmt.Sprintf("e%d", i)
		switch code, body := post(t, url, newEvent(id, "test.a", nil), i%2 == 1); code {
		case http.StatusAccepted:
			accepted = append(accepted, id)
		case http.StatusTooManyRequests:
			rejected++
			if !strings.Contains(body, "queue of Trigger slow is full") {
				t.Errorf("429 body %q does not say which queue is full", body)
			}
		default:
			t.Fatalf("ingress: got %d %s", code, body)
		}
	}
	if got, want := len(accepted), queueSize; got != want {
		t.Errorf("accepted %d, want %d (the queue size)", got, want)
	}
	if got, want := rejected, 2*queueSize; got != want {
		t.Errorf("rejected %d, want %d", got, want)
	}
	// Another Trigger's events are not held up by the full one.
	if code, _ := post(t, url, newEvent("o1", "test.other", nil), false); code != http.StatusAccepted {
		t.Errorf("event for another Trigger: got %d, want 202", code)
	}
	eventually(t, 5*time.Second, "fast deliveries", func() bool { return delivered(b, "fast", "test.a") == len(accepted) })
	eventually(t, 5*time.Second, "other delivery", func() bool { return delivered(b, "other", "test.other") == 1 })

	close(release)
	released = true
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := b.Close(ctx); err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]*subscriber{"slow": slow, "fast": fast} {
		var got []string
		for _, r := range s.all() {
			if r.event.Type() == "test.a" {
				got = append(got, r.event.ID())
			}
		}
		if strings.Join(got, ",") != strings.Join(accepted, ",") {
			t.Errorf("%s got %v, want exactly the accepted %v", name, got, accepted)
		}
	}
}

func TestCloseDrainsAndThenRefuses(t *testing.T) {
	sub := newSubscriber(t, func(n int, _ event.Event) (int, *event.Event) {
		if n%3 == 0 { // some retries still pending when Close starts
			return http.StatusServiceUnavailable, nil
		}
		return http.StatusOK, nil
	})
	b, url := start(t, Config{
		Broker:      testBroker(t, ""),
		Triggers:    []eventingv1.Trigger{trig(t, "t1", "sub", typeFilter("test.a"), "    retry: 3\n    backoffDelay: PT0.1S\n")},
		Subscribers: map[string]string{"sub": sub.URL()},
		Workers:     2,
	})
	const n = 30
	for i := range n {
		if code, _ := post(t, url, newEvent(fmt.Sprint(i), "test.a", nil), false); code != http.StatusAccepted {
			t.Fatalf("ingress: %d", code)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := b.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got := delivered(b, "t1", "test.a"); got != n {
		t.Errorf("delivered %d before Close returned, want %d", got, n)
	}
	if code, body := post(t, url, newEvent("late", "test.a", nil), false); code != http.StatusServiceUnavailable {
		t.Errorf("after Close: got %d %s, want 503", code, body)
	}
}

func TestCloseGivesUpAtItsDeadline(t *testing.T) {
	release := make(chan struct{})
	sub := newSubscriber(t, func(int, event.Event) (int, *event.Event) {
		<-release
		return http.StatusOK, nil
	})
	t.Cleanup(func() { close(release) })
	b, url := start(t, Config{
		Broker:      testBroker(t, ""),
		Triggers:    []eventingv1.Trigger{trig(t, "t1", "sub", typeFilter("test.a"), "")},
		Subscribers: map[string]string{"sub": sub.URL()},
		Workers:     1,
	})
	post(t, url, newEvent("a", "test.a", nil), false)
	post(t, url, newEvent("b", "test.a", nil), false)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	begin := time.Now()
	err := b.Close(ctx)
	if err == nil || !strings.Contains(err.Error(), "2 deliveries unfinished") {
		t.Fatalf("Close: got %v, want 2 deliveries unfinished", err)
	}
	// A liveness bound, far above the 200 ms deadline: Close must not wait
	// for the blocked subscriber.
	if el := time.Since(begin); el > 10*time.Second {
		t.Errorf("Close took %v after its deadline", el)
	}
	if got := dropped(b, dropShutdown, "", ""); got != 2 {
		t.Errorf("dropped{shutdown}: got %d, want 2", got)
	}
}

// Drain finishes the work in flight while the ingress stays open: what a
// subscriber posts to the broker while handling a delivery (as a function
// posts to K_SINK) is carried too, and Close after it has nothing left.
func TestDrainCarriesFollowUps(t *testing.T) {
	var url string
	followUps := newSubscriber(t, nil)
	sender, err := cloudevents.NewClientHTTP()
	if err != nil {
		t.Fatal(err)
	}
	first := newSubscriber(t, func(_ int, e event.Event) (int, *event.Event) {
		next := newEvent(e.ID()+"-next", "test.b", nil)
		if res := sender.Send(cloudevents.ContextWithTarget(context.Background(), url), next); !cloudevents.IsACK(res) {
			return http.StatusInternalServerError, nil // the broker retries this delivery
		}
		return http.StatusOK, nil
	})
	b, u := start(t, Config{
		Broker: testBroker(t, ""),
		Triggers: []eventingv1.Trigger{
			trig(t, "first", "first", typeFilter("test.a"), "    retry: 3\n    backoffDelay: PT0.1S\n"),
			trig(t, "next", "next", typeFilter("test.b"), ""),
		},
		Subscribers: map[string]string{"first": first.URL(), "next": followUps.URL()},
		Workers:     2,
	})
	url = u
	const n = 20
	for i := range n {
		if code, body := post(t, url, newEvent(fmt.Sprint(i), "test.a", nil), false); code != http.StatusAccepted {
			t.Fatalf("ingress: %d %s", code, body)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.Drain(ctx); err != nil {
		t.Fatalf("Drain: %v", err)
	}
	if got := delivered(b, "first", "test.a"); got != n {
		t.Errorf("first: %d delivered when Drain returned, want %d", got, n)
	}
	if got := delivered(b, "next", "test.b"); got != n {
		t.Errorf("follow-ups: %d delivered when Drain returned, want %d", got, n)
	}
	if got := retried(b, "first", "test.a"); got != 0 {
		t.Errorf("first: %d retries: a follow-up was refused during Drain", got)
	}
	if err := b.Close(ctx); err != nil {
		t.Errorf("Close after Drain: %v", err)
	}
}
