package local

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
)

// Each case is a Trigger with one filter and an event that should or
// should not reach it, through the broker: both dialects, every
// subscriptions-API operator, and filters overriding filter.
func TestFilterDialects(t *testing.T) {
	model := map[string]any{"agentkind": "model"}
	tests := []struct {
		name   string
		filter string // under spec, indented 2
		typ    string
		ext    map[string]any
		want   bool
	}{
		{"attributes exact", "  filter:\n    attributes:\n      type: io.x.a", "io.x.a", nil, true},
		{"attributes exact, other type", "  filter:\n    attributes:\n      type: io.x.a", "io.x.b", nil, false},
		{"attributes two keys", "  filter:\n    attributes:\n      type: io.x.a\n      agentkind: model", "io.x.a", model, true},
		{"attributes two keys, one missing", "  filter:\n    attributes:\n      type: io.x.a\n      agentkind: model", "io.x.a", nil, false},
		{"attributes empty value = present", "  filter:\n    attributes:\n      agentkind: \"\"", "io.x.a", model, true},
		{"attributes empty value, absent", "  filter:\n    attributes:\n      agentkind: \"\"", "io.x.a", nil, false},
		{"no filter passes all", "", "anything", nil, true},
		{"exact", "  filters:\n    - exact:\n        type: io.x.a", "io.x.a", nil, true},
		{"exact, other", "  filters:\n    - exact:\n        type: io.x.a", "io.x.ab", nil, false},
		{"prefix", "  filters:\n    - prefix:\n        type: io.x.", "io.x.a", nil, true},
		{"prefix, other", "  filters:\n    - prefix:\n        type: io.x.", "io.y.a", nil, false},
		{"suffix", "  filters:\n    - suffix:\n        type: .done", "io.x.done", nil, true},
		{"suffix, other", "  filters:\n    - suffix:\n        type: .done", "io.x.doneish", nil, false},
		{"all", "  filters:\n    - all:\n        - prefix:\n            type: io.x.\n        - exact:\n            agentkind: model", "io.x.a", model, true},
		{"all, one fails", "  filters:\n    - all:\n        - prefix:\n            type: io.x.\n        - exact:\n            agentkind: model", "io.x.a", nil, false},
		{"any", "  filters:\n    - any:\n        - exact:\n            type: io.x.a\n        - exact:\n            type: io.x.b", "io.x.b", nil, true},
		{"any, none", "  filters:\n    - any:\n        - exact:\n            type: io.x.a\n        - exact:\n            type: io.x.b", "io.x.c", nil, false},
		{"not", "  filters:\n    - not:\n        exact:\n          type: io.x.a", "io.x.b", nil, true},
		{"not, excluded", "  filters:\n    - not:\n        exact:\n          type: io.x.a", "io.x.a", nil, false},
		{"several filters are ANDed", "  filters:\n    - prefix:\n        type: io.x.\n    - suffix:\n        type: .a", "io.x.b", nil, false},
		{"cesql", "  filters:\n    - cesql: \"type LIKE 'io.x.%' AND agentkind = 'model'\"", "io.x.a", model, true},
		{"cesql, false", "  filters:\n    - cesql: \"type LIKE 'io.x.%' AND agentkind = 'model'\"", "io.x.a", map[string]any{"agentkind": "webhook"}, false},
		{"filters replace filter", "  filter:\n    attributes:\n      type: io.x.a\n  filters:\n    - exact:\n        type: io.x.b", "io.x.b", nil, true},
		{"filters replace filter, old one ignored", "  filter:\n    attributes:\n      type: io.x.a\n  filters:\n    - exact:\n        type: io.x.b", "io.x.a", nil, false},
	}
	// One Trigger per case, all to one subscriber at path /<case>; each
	// case posts one event with its own id. Close drains everything, then
	// each path must have got its own case's event exactly when want.
	sub := newSubscriber(t, nil)
	var ts []eventingv1.Trigger
	for i, tt := range tests {
		ts = append(ts, trigWithPath(t, fmt.Sprintf("case%d", i), tt.filter))
	}
	b, url := start(t, Config{Broker: testBroker(t, ""), Triggers: ts, Subscribers: map[string]string{"sub": sub.URL()}})
	for i, tt := range tests {
		if code, body := post(t, url, newEvent(fmt.Sprintf("e%d", i), tt.typ, tt.ext), false); code != http.StatusAccepted {
			t.Fatalf("%s: ingress %d %s", tt.name, code, body)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := b.Close(ctx); err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, r := range sub.all() {
		got[r.path+" "+r.event.ID()] = true
	}
	for i, tt := range tests {
		if g := got[fmt.Sprintf("/case%d e%d", i, i)]; g != tt.want {
			t.Errorf("%s: delivered %v, want %v", tt.name, g, tt.want)
		}
	}
}

// trigWithPath is a Trigger to Service "sub" at the relative path /name.
func trigWithPath(t *testing.T, name, filter string) eventingv1.Trigger {
	t.Helper()
	tr := trig(t, name, "sub", filter, "")
	u, err := parseURI("/" + name)
	if err != nil {
		t.Fatal(err)
	}
	tr.Spec.Subscriber.URI = u
	return tr
}
