// Package fntest helps test agentchat's functions: Need for the test
// services the test command provides, and Broker, a broker that keeps
// what a function posts to K_SINK.
package fntest

import (
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
)

// Need returns the value of the environment variable name (a test service
// the test command exports, tests/README.md), or ends the test without it:
// a skip when run by hand, a failure under CI=true, where nothing may be
// missing.
func Need(t testing.TB, name string) string {
	t.Helper()
	if v := os.Getenv(name); v != "" {
		return v
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is not set (CI=true: nothing may be missing; make test provides it)", name)
	}
	t.Skipf("%s is not set: run make test, or see tests/README.md", name)
	return ""
}

// Broker is an HTTP broker ingress for a test: it accepts CloudEvents
// (binary or structured) and keeps them in arrival order.
type Broker struct {
	URL string

	mu     sync.Mutex
	events []event.Event
	refuse int
}

// NewBroker starts a broker that stops with the test.
func NewBroker(t testing.TB) *Broker {
	b := &Broker{}
	srv := httptest.NewServer(http.HandlerFunc(b.serve))
	t.Cleanup(srv.Close)
	b.URL = srv.URL
	return b
}

func (b *Broker) serve(w http.ResponseWriter, r *http.Request) {
	e, err := cehttp.NewEventFromHTTPRequest(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	b.mu.Lock()
	if b.refuse > 0 {
		b.refuse--
		b.mu.Unlock()
		http.Error(w, "refused by the test", http.StatusServiceUnavailable)
		return
	}
	b.events = append(b.events, *e)
	b.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
}

// Refuse makes the next n posts fail with 503.
func (b *Broker) Refuse(n int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.refuse = n
}

// Events returns what was posted, in arrival order.
func (b *Broker) Events() []event.Event {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]event.Event(nil), b.events...)
}

// OfType returns the posted events of type typ, in arrival order.
func (b *Broker) OfType(typ string) []event.Event {
	var out []event.Event
	for _, e := range b.Events() {
		if e.Type() == typ {
			out = append(out, e)
		}
	}
	return out
}
