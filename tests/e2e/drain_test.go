package e2e

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentchat/agentchat/internal/loadrun"
)

// reconnectSpread is RECONNECT_SPREAD in the rolling restart: each drain
// spreads its clients' reconnects over one second.
const reconnectSpread = time.Second

// moveBound is the protocol's promise: a client is back (its next hello)
// within 2 s of the reconnect hint it got.
const moveBound = 2 * time.Second

// Every connector restarted in turn (SIGTERM: the connector drains) during
// a 10,000-message run: nothing lost, nothing duplicated, order and ticks
// kept, and every client back within moveBound of its reconnect hint —
// measured per client from the hint to its next hello, and reported. The
// hints of each drain are spread over RECONNECT_SPREAD one client per
// slot, never a storm. Each restart is a chaos step fired at a message
// count (loadrun.Step), so sending meets every drain.
func TestSpineSurvivesRollingRestart(t *testing.T) {
	moves := &moveLog{}
	e := start(t, opts{connectors: 3, functions: spineFunctions,
		env: map[string]string{"RECONNECT_SPREAD": reconnectSpread.String()}})
	if n := len(e.p.ConnectorURLs()); n < 2 {
		t.Fatalf("%d connectors: a rolling restart needs at least 2", n)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the clients' warnings (the last 100):\n%s", moves.warnings(100))
		}
	})
	defer func() { t.Logf("the clients' warnings, by kind: %v", moves.warningKinds()) }()
	messages := spineMessages(10_000)
	connectors := len(e.p.ConnectorURLs())
	var steps []loadrun.Step
	windows := make([][2]time.Time, connectors) // when each restart ran
	for i := range connectors {
		steps = append(steps, loadrun.Step{
			Name: fmt.Sprintf("restart connector-%d (SIGTERM, drain)", i), AfterStored: messages * (i + 1) / (connectors + 1),
			Do: func(ctx context.Context) error {
				windows[i][0] = time.Now()
				defer func() { windows[i][1] = time.Now() }()
				proc := e.p.Connector(i)
				// Stop reports a connector it had to kill: the drain must end
				// by itself, well within the grace of SIGTERM.
				err := proc.Stop(ctx)
				return errors.Join(err, proc.Restart(ctx))
			},
		})
	}
	res, err := loadrun.Run(context.Background(), loadrun.Options{
		AccountsURL: e.p.AccountsURL(), ConnectorURLs: e.p.ConnectorURLs(),
		Clients: 20, Offline: 30, GroupSize: 50, Messages: messages, Read: true,
		Timeout: 20 * time.Minute, Progress: func(l string) { t.Log("progress: " + l) },
		Steps: steps, Logger: slog.New(moves),
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range res.Steps {
		t.Logf("restart: %s: fired with %d settled, took %s, ran %v, err %q", s.Name, s.Settled, s.Took.Round(time.Millisecond), s.Ran, s.Err)
		if !s.Ran || s.Err != "" {
			t.Errorf("step %q: ran %v, err %q", s.Name, s.Ran, s.Err)
		}
	}
	checkRun(t, e, res, true)

	// Every drain ended by itself: its sockets gone before DRAIN_TIMEOUT.
	logs := e.logs.String()
	if n := strings.Count(logs, `"msg":"connector: drained"`); n != connectors {
		t.Errorf("%d drains logged their end, want %d", n, connectors)
	}
	if strings.Contains(logs, "connector: drain timeout") {
		t.Error("a drain timed out with sockets still open")
	}

	// The moves, client by client: every hint followed by a hello within
	// moveBound; the hints of each drain one per slot of the spread.
	gaps, late, parts, perDrain, clients := moves.analyse(t, windows)
	if len(gaps) == 0 {
		t.Fatal("no client was told to reconnect")
	}
	if clients != 20 {
		t.Errorf("%d of 20 clients were told to reconnect, want every one (each connector was restarted)", clients)
	}
	for i, hs := range perDrain {
		if len(hs) == 0 {
			t.Errorf("drain %d: no hint", i)
			continue
		}
		slices.Sort(hs)
		slot := float64(reconnectSpread.Milliseconds()) / float64(len(hs))
		for j, h := range hs {
			// afterMs is truncated to the millisecond: 1 ms of slack.
			lo, hi := float64(j)*slot, float64(j+1)*slot
			if float64(h) < lo-1 || float64(h) > hi+1 {
				t.Errorf("drain %d: hint %d of %d is afterMs %d, want in its slot [%.0f, %.0f] (%v)", i, j, len(hs), h, lo, hi, hs)
				break
			}
		}
		t.Logf("drain %d: %d clients, hints afterMs %v", i, len(hs), hs)
	}
	over := 0
	for _, g := range gaps {
		if g > moveBound {
			over++
		}
	}
	t.Logf("moves: %d; hint → next hello: %s; past the hinted time: %s", len(gaps), distribution(gaps), distribution(late))
	t.Logf("past the hinted time, in parts: leaving the old socket %s; dialing %s; the hello after the upgrade %s",
		distribution(parts[0]), distribution(parts[1]), distribution(parts[2]))
	if over > 0 {
		t.Errorf("%d of %d clients were back later than %s after their reconnect hint (%s)", over, len(gaps), moveBound, distribution(gaps))
	}
}

// moveLog is a slog handler that keeps, per device, when its client was
// told to reconnect (and afterMs), left its socket, was upgraded and got a
// hello — the client's own log records, stamped on its loop — and the
// clients' warnings, which a failing run shows.
type moveLog struct {
	mu    sync.Mutex
	recs  map[string][]moveRec // by device
	warns []string
	kinds map[string]int // warnings by message (and code)
}

// warningKinds counts the clients' warnings by message and code.
func (l *moveLog) warningKinds() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return maps.Clone(l.kinds)
}

// warnings are the last n warnings the clients logged.
func (l *moveLog) warnings(n int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.warns[max(0, len(l.warns)-n):], "\n")
}

type moveRec struct {
	at      time.Time
	kind    string // "hint", "left" (socket closed), "up" (upgraded), "hello"
	afterMs int64
}

func (l *moveLog) handler(attrs []slog.Attr) slog.Handler { return &moveHandler{log: l, attrs: attrs} }

func (l *moveLog) Enabled(context.Context, slog.Level) bool { return true }
func (l *moveLog) Handle(ctx context.Context, r slog.Record) error {
	return l.handler(nil).Handle(ctx, r)
}
func (l *moveLog) WithAttrs(as []slog.Attr) slog.Handler { return l.handler(as) }
func (l *moveLog) WithGroup(string) slog.Handler         { return l }

type moveHandler struct {
	log   *moveLog
	attrs []slog.Attr
}

func (h *moveHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *moveHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &moveHandler{log: h.log, attrs: append(slices.Clone(h.attrs), as...)}
}

func (h *moveHandler) WithGroup(string) slog.Handler { return h }

func (h *moveHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn {
		var b strings.Builder
		fmt.Fprintf(&b, "%s %s %s", r.Time.Format(time.StampMilli), r.Level, r.Message)
		for _, a := range h.attrs {
			fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		}
		kind := r.Message
		r.Attrs(func(a slog.Attr) bool {
			fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
			if a.Key == "code" {
				kind += " " + a.Value.String()
			}
			return true
		})
		h.log.mu.Lock()
		h.log.warns = append(h.log.warns, b.String())
		if h.log.kinds == nil {
			h.log.kinds = map[string]int{}
		}
		h.log.kinds[kind]++
		h.log.mu.Unlock()
	}
	var rec moveRec
	switch r.Message {
	case "client: connector draining":
		rec.kind = "hint"
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "after_ms" {
				rec.afterMs = a.Value.Int64()
			}
			return true
		})
	case "client: disconnected":
		rec.kind = "left"
	case "client: connected":
		rec.kind = "up"
	case "client: hello":
		rec.kind = "hello"
	default:
		return nil
	}
	rec.at = r.Time
	device := ""
	for _, a := range h.attrs {
		if a.Key == "device" {
			device = a.Value.String()
		}
	}
	h.log.mu.Lock()
	defer h.log.mu.Unlock()
	if h.log.recs == nil {
		h.log.recs = map[string][]moveRec{}
	}
	h.log.recs[device] = append(h.log.recs[device], rec)
	return nil
}

// analyse pairs every hint with the device's next hello: gaps (hint →
// hello), how late each was past its hinted time and in which part of the
// move (leaving the old socket past the hinted time, dialing, the hello
// after the upgrade), the hints' afterMs per drain (by the restart window
// they fell in), and how many devices were hinted. A hint never followed
// by a hello is an error.
func (l *moveLog) analyse(t *testing.T, windows [][2]time.Time) (gaps, late []time.Duration, parts [3][]time.Duration, perDrain [][]int64, devices int) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	perDrain = make([][]int64, len(windows))
	for dev, recs := range l.recs {
		slices.SortStableFunc(recs, func(a, b moveRec) int { return a.at.Compare(b.at) })
		hinted := false
		for i, r := range recs {
			if r.kind != "hint" {
				continue
			}
			hinted = true
			for w, win := range windows {
				if !r.at.Before(win[0]) && !r.at.After(win[1]) {
					perDrain[w] = append(perDrain[w], r.afterMs)
				}
			}
			after := func(kind string) (time.Time, bool) {
				j := slices.IndexFunc(recs[i+1:], func(n moveRec) bool { return n.kind == kind })
				if j < 0 {
					return time.Time{}, false
				}
				return recs[i+1+j].at, true
			}
			hello, ok := after("hello")
			if !ok {
				t.Errorf("device %s: hinted at %s (afterMs %d) and never back", dev, r.at.Format(time.StampMilli), r.afterMs)
				continue
			}
			due := r.at.Add(time.Duration(r.afterMs) * time.Millisecond)
			gaps = append(gaps, hello.Sub(r.at))
			late = append(late, hello.Sub(due))
			left, ok1 := after("left")
			up, ok2 := after("up")
			if ok1 && ok2 && !left.After(up) && !up.After(hello) {
				parts[0] = append(parts[0], left.Sub(due))
				parts[1] = append(parts[1], up.Sub(left))
				parts[2] = append(parts[2], hello.Sub(up))
			}
		}
		if hinted {
			devices++
		}
	}
	return gaps, late, parts, perDrain, devices
}

// distribution renders min, p50, p90, p99 and max of ds.
func distribution(ds []time.Duration) string {
	if len(ds) == 0 {
		return "none"
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	p := func(q float64) time.Duration { return s[min(len(s)-1, int(q*float64(len(s))))].Round(time.Millisecond) }
	return fmt.Sprintf("min %s p50 %s p90 %s p99 %s max %s", s[0].Round(time.Millisecond), p(0.5), p(0.9), p(0.99), s[len(s)-1].Round(time.Millisecond))
}
