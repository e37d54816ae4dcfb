package local

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/cloudevents/sdk-go/v2/types"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
)

const deadLetterDelivery = `    deadLetterSink:
      ref:
        apiVersion: serving.knative.dev/v1
        kind: Service
        name: deadletter
`

func TestRetryThenSuccessFollowsBackoff(t *testing.T) {
	tests := []struct {
		policy string
		want   []time.Duration // minimum gap before retry 1, 2
	}{
		{"exponential", []time.Duration{200 * time.Millisecond, 400 * time.Millisecond}}, // 100ms * 2^n
		{"linear", []time.Duration{100 * time.Millisecond, 200 * time.Millisecond}},      // 100ms * n
	}
	for _, tt := range tests {
		t.Run(tt.policy, func(t *testing.T) {
			sub := newSubscriber(t, func(n int, _ event.Event) (int, *event.Event) {
				if n <= 2 {
					return http.StatusServiceUnavailable, nil
				}
				return http.StatusOK, nil
			})
			b, url := start(t, Config{
				Broker: testBroker(t, ""),
				Triggers: []eventingv1.Trigger{trig(t, "t1", "sub", typeFilter("test.a"),
					"    retry: 3\n    backoffPolicy: "+tt.policy+"\n    backoffDelay: PT0.1S\n")},
				Subscribers: map[string]string{"sub": sub.URL()},
			})
			if code, body := post(t, url, newEvent("e1", "test.a", nil), false); code != http.StatusAccepted {
				t.Fatalf("ingress: got %d %s, want 202", code, body)
			}
			eventually(t, 5*time.Second, "delivery", func() bool { return delivered(b, "t1", "test.a") == 1 })
			got := sub.all()
			if len(got) != 3 {
				t.Fatalf("got %d attempts, want 3", len(got))
			}
			for i := 1; i < len(got); i++ {
				if got[i].event.ID() != "e1" {
					t.Errorf("attempt %d: id %q, want e1", i+1, got[i].event.ID())
				}
				if gap := got[i].at.Sub(got[i-1].at); gap < tt.want[i-1] {
					t.Errorf("gap before retry %d: got %v, want >= %v", i, gap, tt.want[i-1])
				}
			}
			if got, want := retried(b, "t1", "test.a"), 2; got != want {
				t.Errorf("retries metric: got %d, want %d", got, want)
			}
		})
	}
}

func TestExhaustedRetriesGoToDeadLetterSink(t *testing.T) {
	tests := []struct {
		name         string
		trigger      string // delivery YAML
		broker       string // extra broker delivery YAML
		code         int
		wantAttempts int
	}{
		{"trigger sink, 500 retried", "    retry: 2\n" + deadLetterDelivery, "", http.StatusInternalServerError, 3},
		{"broker sink inherited", "    retry: 1\n", deadLetterDelivery, http.StatusNotFound, 2},
		{"400 not retried", "    retry: 5\n" + deadLetterDelivery, "", http.StatusBadRequest, 1},
		{"403 not retried", "    retry: 5\n" + deadLetterDelivery, "", http.StatusForbidden, 1},
		{"429 retried", "    retry: 1\n" + deadLetterDelivery, "", http.StatusTooManyRequests, 2},
		{"broker policy when trigger has none", "", "    retry: 2\n" + deadLetterDelivery, http.StatusConflict, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sub := newSubscriber(t, func(int, event.Event) (int, *event.Event) { return tt.code, nil })
			dls := newSubscriber(t, nil)
			brokerYAML := tt.broker
			if strings.Contains(brokerYAML, "retry:") { // replaces the default retry: 0
				brokerYAML = strings.Replace(brokerYAML, "    retry: 2\n", "", 1)
			}
			br := testBroker(t, brokerYAML)
			if strings.Contains(tt.broker, "retry: 2") {
				two := int32(2)
				br.Spec.Delivery.Retry = &two
			}
			b, url := start(t, Config{
				Broker:      br,
				Triggers:    []eventingv1.Trigger{trig(t, "t1", "sub", typeFilter("test.a"), tt.trigger)},
				Subscribers: map[string]string{"sub": sub.URL(), "deadletter": dls.URL()},
			})
			if code, _ := post(t, url, newEvent("e1", "test.a", nil), false); code != http.StatusAccepted {
				t.Fatalf("ingress: got %d, want 202", code)
			}
			eventually(t, 5*time.Second, "dead letter", func() bool { return deadLettered(b, "t1", "test.a") == 1 })
			if got := sub.count(); got != tt.wantAttempts {
				t.Errorf("subscriber attempts: got %d, want %d", got, tt.wantAttempts)
			}
			dl := dls.all()
			if len(dl) != 1 {
				t.Fatalf("dead-letter sink got %d events, want 1", len(dl))
			}
			e := dl[0].event
			ext := e.Extensions()
			if got, want := ext["knativeerrordest"], sub.URL(); got != want {
				t.Errorf("knativeerrordest: got %v, want %v", got, want)
			}
			if code, err := types.ToInteger(ext["knativeerrorcode"]); err != nil || int(code) != tt.code {
				t.Errorf("knativeerrorcode: got %v (%v), want %d", ext["knativeerrorcode"], err, tt.code)
			}
			data, _ := base64.StdEncoding.DecodeString(ext["knativeerrordata"].(string))
			if !strings.Contains(string(data), "from test subscriber") {
				t.Errorf("knativeerrordata: got %q, want the subscriber's body", data)
			}
			if e.ID() != "e1" || e.Type() != "test.a" || string(e.Data()) != `{"id":"e1"}` {
				t.Errorf("dead-lettered event changed: %s", e)
			}
		})
	}
}

func TestNoDeadLetterSinkDropsAndCounts(t *testing.T) {
	sub := newSubscriber(t, func(int, event.Event) (int, *event.Event) { return http.StatusInternalServerError, nil })
	b, url := start(t, Config{
		Broker:      testBroker(t, ""),
		Triggers:    []eventingv1.Trigger{trig(t, "t1", "sub", typeFilter("test.a"), "    retry: 1\n")},
		Subscribers: map[string]string{"sub": sub.URL()},
	})
	post(t, url, newEvent("e1", "test.a", nil), false)
	eventually(t, 5*time.Second, "drop", func() bool { return dropped(b, dropUndeliverable, "t1", "test.a") == 1 })
	if got, want := sub.count(), 2; got != want {
		t.Errorf("attempts: got %d, want %d", got, want)
	}
}

func TestDeadLetterSinkFailureIsCounted(t *testing.T) {
	sub := newSubscriber(t, func(int, event.Event) (int, *event.Event) { return http.StatusBadRequest, nil })
	dls := newSubscriber(t, func(int, event.Event) (int, *event.Event) { return http.StatusInternalServerError, nil })
	b, url := start(t, Config{
		Broker:      testBroker(t, ""),
		Triggers:    []eventingv1.Trigger{trig(t, "t1", "sub", typeFilter("test.a"), "    retry: 1\n"+deadLetterDelivery)},
		Subscribers: map[string]string{"sub": sub.URL(), "deadletter": dls.URL()},
	})
	post(t, url, newEvent("e1", "test.a", nil), false)
	eventually(t, 5*time.Second, "drop", func() bool { return dropped(b, dropDeadLetterFailed, "t1", "test.a") == 1 })
	if got, want := dls.count(), 2; got != want { // the sink is retried with the same policy
		t.Errorf("dead-letter attempts: got %d, want %d", got, want)
	}
}

func TestTimeoutIsARetryableFailure(t *testing.T) {
	release := make(chan struct{})
	sub := newSubscriber(t, func(n int, _ event.Event) (int, *event.Event) {
		<-release
		return http.StatusOK, nil
	})
	t.Cleanup(func() { close(release) }) // before the subscriber's Close, which waits for handlers
	dls := newSubscriber(t, nil)
	b, url := start(t, Config{
		Broker:      testBroker(t, ""),
		Triggers:    []eventingv1.Trigger{trig(t, "t1", "sub", typeFilter("test.a"), "    retry: 1\n    timeout: PT0.1S\n"+deadLetterDelivery)},
		Subscribers: map[string]string{"sub": sub.URL(), "deadletter": dls.URL()},
	})
	start := time.Now()
	post(t, url, newEvent("e1", "test.a", nil), false)
	eventually(t, 5*time.Second, "dead letter", func() bool { return deadLettered(b, "t1", "test.a") == 1 })
	if got, want := sub.count(), 2; got != want {
		t.Errorf("attempts: got %d, want %d", got, want)
	}
	if el := time.Since(start); el < 200*time.Millisecond {
		t.Errorf("two attempts with a 0.1 s timeout took %v, want >= 200ms", el)
	}
	code, _ := types.ToInteger(dls.all()[0].event.Extensions()["knativeerrorcode"])
	if code != http.StatusInternalServerError {
		t.Errorf("knativeerrorcode: got %d, want 500 (Knative's code for a failed dispatch)", code)
	}
}

// TestUnresolvedSubscriberTakesNoEvents: a Trigger whose subscriber has
// no URL yet (a function this machine does not run) is not Ready, as on
// Knative: it takes no events — none queued, none retried — until
// SetSubscriber; then it takes the next ones.
func TestUnresolvedSubscriberTakesNoEvents(t *testing.T) {
	sub := newSubscriber(t, nil)
	b, url := start(t, Config{
		Broker:   testBroker(t, ""),
		Triggers: []eventingv1.Trigger{trig(t, "t1", "later", typeFilter("test.a"), "    retry: 100\n    backoffPolicy: linear\n    backoffDelay: PT0.1S\n")},
	})
	post(t, url, newEvent("e1", "test.a", nil), false)
	if n := b.outstanding.Load(); n != 0 {
		t.Errorf("%d deliveries outstanding for a Trigger with no subscriber, want 0", n)
	}
	b.SetSubscriber("later", sub.URL())
	post(t, url, newEvent("e2", "test.a", nil), false)
	eventually(t, 5*time.Second, "delivery", func() bool { return delivered(b, "t1", "test.a") == 1 })
	if got := sub.all(); len(got) != 1 || got[0].event.ID() != "e2" {
		t.Errorf("subscriber got %d events, want e2 alone", len(got))
	}
	if n := retried(b, "t1", "test.a"); n != 0 {
		t.Errorf("%v retries, want none", n)
	}
}

func TestDeliveryFormatJSONIsStructured(t *testing.T) {
	sub := newSubscriber(t, nil)
	b, url := start(t, Config{
		Broker:      testBroker(t, ""),
		Triggers:    []eventingv1.Trigger{trig(t, "t1", "sub", typeFilter("test.a"), "    format: json\n")},
		Subscribers: map[string]string{"sub": sub.URL()},
	})
	post(t, url, newEvent("e1", "test.a", nil), false)
	eventually(t, 5*time.Second, "delivery", func() bool { return delivered(b, "t1", "test.a") == 1 })
	h := sub.all()[0].header
	if got := h.Get("Content-Type"); !strings.HasPrefix(got, "application/cloudevents+json") || h.Get("Ce-Id") != "" {
		t.Errorf("got Content-Type %q, ce-id %q; want structured mode", got, h.Get("Ce-Id"))
	}
}
