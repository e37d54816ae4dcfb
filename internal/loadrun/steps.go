package loadrun

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Step is something done to the platform while a run is under way — a
// chaos blow such as killing a process or restarting Redis — fired by the
// run's progress, never by the clock, so that a run means the same on a
// slow machine and a fast one.
//
// The run's schedule around the steps (Options.Steps, in order):
//   - Sending pauses once AfterStored messages have been sent, and the
//     step fires when all of them have settled (stored, or failed for
//     good): it starts at that exact count.
//   - While Do runs, sending resumes for half of the messages up to the
//     next step's count (or the end), so traffic meets the blow.
//   - Once Do has returned, the other half follows, so traffic also meets
//     the platform after it; the next step fires only when every message
//     before it has settled, which needs the platform recovered.
//
// So the run never ends before every step has run, and the last messages
// are sent only after the last step has returned.
type Step struct {
	// Name says what the step does, in reports.
	Name string
	// AfterStored is the number of messages settled when the step fires:
	// at least 1, below the next step's by at least 2, and at most
	// Options.Messages-2.
	AfterStored int
	// Do does the step and returns once its own part is done (a killed
	// process restarted and ready). It must return when ctx ends. An error
	// is a run error; the run goes on.
	Do func(ctx context.Context) error
}

// StepReport is what became of one Step.
type StepReport struct {
	Name    string
	Settled int           // messages settled when it fired
	Took    time.Duration // how long Do ran
	Ran     bool          // Do was called and returned
	Err     string        // Do's error, if any
}

// validateSteps checks that steps can fire in order within messages.
func validateSteps(steps []Step, messages int) error {
	prev := 0
	for i, s := range steps {
		if s.Do == nil {
			return fmt.Errorf("loadrun: step %d (%s): no Do", i, s.Name)
		}
		if s.AfterStored < prev+1 || (i > 0 && s.AfterStored < prev+2) {
			return fmt.Errorf("loadrun: step %d (%s): AfterStored %d must be at least 1 and 2 above the step before (%d)", i, s.Name, s.AfterStored, prev)
		}
		prev = s.AfterStored
	}
	if len(steps) > 0 && prev > messages-2 {
		return fmt.Errorf("loadrun: last step fires after %d of %d messages: leave at least 2 for after it", prev, messages)
	}
	return nil
}

// gate admits sends up to a limit that the steps move, and counts the
// messages that have settled.
type gate struct {
	mu       sync.Mutex
	cond     *sync.Cond
	admitted int // sends let through
	limit    int // sends allowed so far
	settled  int // messages stored or failed for good, and sends that failed
	closed   bool
}

func newGate(limit int) *gate {
	g := &gate{limit: limit}
	g.cond = sync.NewCond(&g.mu)
	return g
}

// admit waits until one more send is allowed and takes it; false once the
// gate is closed (the run's context ended).
func (g *gate) admit() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	for g.admitted >= g.limit && !g.closed {
		g.cond.Wait()
	}
	if g.closed {
		return false
	}
	g.admitted++
	return true
}

// settle records that one admitted message is done with.
func (g *gate) settle() {
	g.mu.Lock()
	g.settled++
	g.mu.Unlock()
	g.cond.Broadcast()
}

// setLimit lets sends through up to n.
func (g *gate) setLimit(n int) {
	g.mu.Lock()
	g.limit = n
	g.mu.Unlock()
	g.cond.Broadcast()
}

// waitSettled waits until n messages have settled; false once the gate is
// closed first.
func (g *gate) waitSettled(n int) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	for g.settled < n && !g.closed {
		g.cond.Wait()
	}
	return g.settled >= n
}

func (g *gate) close() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
	g.cond.Broadcast()
}

func (g *gate) counts() (admitted, settled int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.admitted, g.settled
}

// runSteps runs the schedule Step describes over g and reports each step.
// messages is the run's total.
func runSteps(ctx context.Context, g *gate, steps []Step, messages int, progress func(string)) []StepReport {
	reports := make([]StepReport, len(steps))
	for i, s := range steps {
		reports[i].Name = s.Name
	}
	for i, s := range steps {
		if !g.waitSettled(s.AfterStored) {
			return reports
		}
		next := messages
		if i+1 < len(steps) {
			next = steps[i+1].AfterStored
		}
		_, settled := g.counts()
		if progress != nil {
			progress(fmt.Sprintf("step %d/%d %q: fired with %d messages settled", i+1, len(steps), s.Name, settled))
		}
		g.setLimit((s.AfterStored + next) / 2)
		start := time.Now()
		err := s.Do(ctx)
		reports[i] = StepReport{Name: s.Name, Settled: settled, Took: time.Since(start), Ran: true}
		if err != nil {
			reports[i].Err = err.Error()
		}
		if progress != nil {
			progress(fmt.Sprintf("step %d/%d %q: done in %s (err: %v)", i+1, len(steps), s.Name, reports[i].Took.Round(time.Millisecond), err))
		}
		g.setLimit(next)
	}
	return reports
}

// stepErrors are the run errors the reports stand for.
func stepErrors(reports []StepReport) error {
	var errs []error
	for _, r := range reports {
		switch {
		case !r.Ran:
			errs = append(errs, fmt.Errorf("step %q did not run", r.Name))
		case r.Err != "":
			errs = append(errs, fmt.Errorf("step %q: %s", r.Name, r.Err))
		}
	}
	return errors.Join(errs...)
}
