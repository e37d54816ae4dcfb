package triggers

import (
	"context"
	"fmt"
	"sync"
	"testing"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"knative.dev/eventing/pkg/eventfilter"
)

// filterCases are spec.filters lists (YAML) covering every operator and
// their nesting.
var filterCases = []string{
	`[{exact: {type: io.x.a}}]`,
	`[{prefix: {type: io.x.}}]`,
	`[{suffix: {type: .done}}]`,
	`[{exact: {agentkind: model}}]`,
	`[{prefix: {type: io.x.}}, {suffix: {type: .a}}]`,
	`[{all: [{prefix: {type: io.x.}}, {exact: {agentkind: model}}]}]`,
	`[{all: [{prefix: {type: io.x.}}]}]`,
	`[{any: [{exact: {type: io.x.a}}, {exact: {type: io.x.b}}]}]`,
	`[{any: [{exact: {type: io.x.a}}, {all: [{prefix: {type: io.y.}}, {not: {exact: {agentkind: model}}}]}]}]`,
	`[{not: {exact: {type: io.x.a}}}]`,
	`[{not: {any: [{exact: {type: io.x.a}}, {suffix: {type: .done}}]}}]`,
	`[{cesql: "type LIKE 'io.x.%' AND agentkind = 'model'"}]`,
	`[{cesql: "EXISTS agentkind"}]`,
	`[{all: [{prefix: {type: io.agentchat.agent.}}, {not: {exact: {type: io.agentchat.agent.invoke}}}]}]`,
}

var filterEvents = []struct {
	typ, agentkind string
}{
	{"io.x.a", ""}, {"io.x.a", "model"}, {"io.x.b", "webhook"}, {"io.x.done", ""},
	{"io.y.z", ""}, {"io.y.z", "model"}, {"io.agentchat.agent.invoke", "model"},
	{"io.agentchat.agent.partial", ""}, {"other", ""},
}

// Concurrent use of one filter, as the local broker does; run with -race.
func TestNewFilterIsSafeForConcurrentUse(t *testing.T) {
	ts, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	for i := range ts {
		f := NewFilter(&ts[i])
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for n := range 50 {
					e := cloudevents.NewEvent()
					e.SetID(fmt.Sprint(g, n))
					e.SetSource("/s")
					e.SetType(filterEvents[n%len(filterEvents)].typ)
					_ = f.Filter(context.Background(), e) != eventfilter.FailFilter
				}
			}()
		}
		wg.Wait()
		f.Cleanup()
	}
}
