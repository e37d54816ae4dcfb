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
	// What a step sees is read inside Do, while sending has already resumed
	// (up to the middle of the slice), so at Do's start the admitted count
	// is anywhere from the step's count to that middle; the count the step
	// fired at is its report's Settled.
	var atEnd []int
	var g *gate
	step := func(next int, after int) Step {
		return Step{Name: fmt.Sprintf("at %d", after), AfterStored: after, Do: func(context.Context) error {
			mid := (after + next) / 2
			if a, _ := g.counts(); a < after || a > mid {
				t.Errorf("step %d: admitted %d when Do started, want %d..%d", after, a, after, mid)
			}
			// Sending resumes while the step runs, up to the middle, and no further.
			testenv.Eventually(t, time.Minute, time.Millisecond, func() bool { a, _ := g.counts(); return a == mid },
				"sends while step %d runs", after)
			end, _ := g.counts()
			atEnd = append(atEnd, end)
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
	want := []int{35, 65, 90}
	if len(atEnd) != len(want) {
		t.Fatalf("steps ran %d times, want %d", len(atEnd), len(want))
	}
	for i := range want {
		if atEnd[i] != want[i] {
			t.Errorf("step %d: admitted %d when Do returned, want %d", i, atEnd[i], want[i])
		}
		if r := reports[i]; !r.Ran || r.Settled != steps[i].AfterStored || r.Err != "" {
			t.Errorf("report %d = %+v, want it ran with %d settled", i, r, steps[i].AfterStored)
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
