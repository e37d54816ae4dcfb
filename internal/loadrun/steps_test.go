package loadrun

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/agentchat/agentchat/internal/testenv"
)

// sendAll stands in for the clients: it sends total messages through g,
// each settling at once, and closes done when it has sent them all.
func sendAll(g *gate, total int, done chan<- struct{}) {
	defer close(done)
	for range total {
		if !g.admit() {
			return
		}
		g.settle()
	}
}

// The schedule is the same whatever the speed: each step fires at its
// exact count with sending paused there, half the gap to the next step
// goes out while it runs, and the last messages go out only after the last
// step has returned.
func TestStepsFireAtTheirCounts(t *testing.T) {
	const total = 100
	type seen struct{ admittedAtStart, settledAtStart, admittedAtEnd int }
	var got []seen
	var g *gate
	step := func(next int, after int) Step {
		return Step{Name: fmt.Sprintf("at %d", after), AfterStored: after, Do: func(context.Context) error {
			a, s := g.counts()
			mid := (after + next) / 2
			// Sending resumes while the step runs, up to the middle.
			testenv.Eventually(t, 10*time.Second, time.Millisecond, func() bool { a, _ := g.counts(); return a == mid },
				"sends while step %d runs", after)
			end, _ := g.counts()
			got = append(got, seen{a, s, end})
			return nil
		}}
	}
	steps := []Step{step(50, 20), step(80, 50), step(total, 80)}
	if err := validateSteps(steps, total); err != nil {
		t.Fatal(err)
	}
	g = newGate(steps[0].AfterStored)
	done := make(chan struct{})
	go sendAll(g, total, done)
	reports := runSteps(context.Background(), g, steps, total, func(l string) { t.Log(l) })
	<-done
	want := []seen{{20, 20, 35}, {50, 50, 65}, {80, 80, 90}}
	if len(got) != len(want) {
		t.Fatalf("steps ran %d times, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("step %d: admitted/settled at start, admitted at end = %v, want %v", i, got[i], want[i])
		}
		if r := reports[i]; !r.Ran || r.Settled != steps[i].AfterStored || r.Err != "" {
			t.Errorf("report %d = %+v", i, r)
		}
	}
	if a, s := g.counts(); a != total || s != total {
		t.Errorf("after the run: admitted %d settled %d, want %d", a, s, total)
	}
	if err := stepErrors(reports); err != nil {
		t.Errorf("stepErrors = %v", err)
	}
}

// A run whose context ends before a step fires reports that step as not
// run, and a step's error is a run error.
func TestStepsNotRunAreErrors(t *testing.T) {
	g := newGate(10)
	ctx, cancel := context.WithCancel(context.Background())
	steps := []Step{
		{Name: "fails", AfterStored: 10, Do: func(context.Context) error { cancel(); g.close(); return errors.New("boom") }},
		{Name: "never", AfterStored: 30, Do: func(context.Context) error { t.Error("step after the end ran"); return nil }},
	}
	done := make(chan struct{})
	go sendAll(g, 50, done)
	reports := runSteps(ctx, g, steps, 50, nil)
	<-done
	err := stepErrors(reports)
	if err == nil || !strings.Contains(err.Error(), `step "fails": boom`) || !strings.Contains(err.Error(), `step "never" did not run`) {
		t.Errorf("stepErrors = %v", err)
	}
}

func TestValidateSteps(t *testing.T) {
	do := func(context.Context) error { return nil }
	for _, tc := range []struct {
		name  string
		steps []Step
		ok    bool
	}{
		{"none", nil, true},
		{"fine", []Step{{AfterStored: 1, Do: do}, {AfterStored: 3, Do: do}}, true},
		{"zero", []Step{{AfterStored: 0, Do: do}}, false},
		{"too close", []Step{{AfterStored: 5, Do: do}, {AfterStored: 6, Do: do}}, false},
		{"out of order", []Step{{AfterStored: 5, Do: do}, {AfterStored: 2, Do: do}}, false},
		{"no room after", []Step{{AfterStored: 9, Do: do}}, false},
		{"no do", []Step{{AfterStored: 2}}, false},
	} {
		if err := validateSteps(tc.steps, 10); (err == nil) != tc.ok {
			t.Errorf("%s: validateSteps = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}
