package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/agentchat/agentchat/internal/loadrun"
	"github.com/agentchat/agentchat/internal/testenv"
	"github.com/agentchat/agentchat/sdk/client"
	"github.com/agentchat/agentchat/sdk/e2ee"
)

// spineMessages is the volume of the big runs: 10,000 messages each;
// AGENTCHAT_E2E_MESSAGES overrides it (a quick local run). On FerretDB
// this volume relies on every hot query being a lookup by _id that a GIN
// index serves (cmd/ferretdb/ginindex.go, docs/data.md).
func spineMessages(def int) int {
	if n, err := strconv.Atoi(os.Getenv("AGENTCHAT_E2E_MESSAGES")); err == nil && n > 0 {
		return n
	}
	return def
}

// spineFunctions are what the messaging spine needs; agents and media have
// their own tests.
var spineFunctions = []string{"accounts", "persist", "route", "deadletter"}

func checkRun(t *testing.T, e *env, res loadrun.Result, wantTicks bool) {
	t.Helper()
	t.Logf("run: %s", res)
	if !res.OK() {
		for i, err := range res.Errors {
			if i == 20 {
				t.Errorf("... %d more errors", len(res.Errors)-20)
				break
			}
			t.Errorf("run error: %s", err)
		}
		t.Errorf("run not clean: %s", res)
	}
	if res.Received != res.Expected {
		t.Errorf("deliveries shown = %d, want %d", res.Received, res.Expected)
	}
	if wantTicks && res.DeliveredTick != res.TickEligible {
		t.Errorf("✓✓ on %d of %d own messages", res.DeliveredTick, res.TickEligible)
	}
	if wantTicks && res.ReadTick != res.TickEligible {
		t.Errorf("read on %d of %d own messages", res.ReadTick, res.TickEligible)
	}
	// What MongoDB holds: each message exactly once, seqs gapless (a
	// group's sender key distributions among them, one per sender and
	// epoch, docs/e2ee.md "Sender keys").
	total := 0
	for _, conv := range res.ConversationIDs {
		seqs := e.storedSeqs(t, conv)
		checkGapless(t, conv, seqs, len(seqs))
		total += len(seqs) - e.distributions(t, conv)
	}
	if total != res.Sent {
		t.Errorf("MongoDB holds %d messages, %d were sent", total, res.Sent)
	}
}

// 20 clients on 2 connectors, a 50-member group (30 members offline) and
// direct conversations: every message stored once, every online member
// device shown every message once in seq order, senders see ✓, ✓✓, read.
func TestSpineManyClients(t *testing.T) {
	e := start(t, opts{connectors: 2, functions: spineFunctions})
	res, err := loadrun.Run(context.Background(), loadrun.Options{
		AccountsURL: e.p.AccountsURL(), ConnectorURLs: e.p.ConnectorURLs(),
		Clients: 20, Offline: 30, GroupSize: 50, Messages: spineMessages(10_000), Read: true,
		Timeout: 20 * time.Minute, Progress: func(l string) { t.Log("progress: " + l) },
	})
	if err != nil {
		t.Fatal(err)
	}
	checkRun(t, e, res, true)
}

// The same run while a connector is killed (-9), persist and route are
// killed and restarted, and Redis is restarted: nothing lost, nothing
// duplicated, order kept — ticks included: receipts published while a
// subscription was down come back with the next sync's cursors. Each blow
// lands at a message count (loadrun.Step), not after a time, and the run
// sends its last messages only after the last blow: the verdict is the
// same on a slow machine and a fast one.
func TestSpineSurvivesCrashes(t *testing.T) {
	redis := startRedis(t)
	e := start(t, opts{connectors: 2, redisURL: redis.url(), functions: spineFunctions})
	messages := spineMessages(10_000)
	at := func(k int) int { return messages * k / 5 }
	// killAndRestart kills fn and starts it again once the broker has
	// failed to deliver to it at least once: the blow met traffic.
	killAndRestart := func(fn string) func(ctx context.Context) error {
		return func(ctx context.Context) error {
			before := e.brokerCounter(t, "retries_total", fn)
			e.p.Function(fn).Kill()
			err := pollUntil(ctx, 2*time.Minute, func() bool { return e.brokerCounter(t, "retries_total", fn) > before })
			if err != nil {
				err = fmt.Errorf("no delivery to %s failed while it was down: %w", fn, err)
			}
			return errors.Join(err, e.p.Function(fn).Restart(ctx))
		}
	}
	steps := []loadrun.Step{
		{Name: "kill connector-0 (-9)", AfterStored: at(1), Do: func(context.Context) error {
			e.p.Connector(0).Kill()
			return nil
		}},
		{Name: "kill persist (-9), restart it", AfterStored: at(2), Do: killAndRestart("persist")},
		{Name: "kill route (-9), restart it", AfterStored: at(3), Do: killAndRestart("route")},
		{Name: "restart redis", AfterStored: at(4), Do: redis.restart},
	}
	res, err := loadrun.Run(context.Background(), loadrun.Options{
		AccountsURL: e.p.AccountsURL(), ConnectorURLs: e.p.ConnectorURLs(),
		Clients: 20, Offline: 30, GroupSize: 50, Messages: messages, Read: true,
		Timeout: 20 * time.Minute, Progress: func(l string) { t.Log("progress: " + l) },
		Steps: steps,
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range res.Steps {
		t.Logf("chaos: %s: fired with %d settled, took %s, ran %v, err %q", s.Name, s.Settled, s.Took.Round(time.Millisecond), s.Ran, s.Err)
		if !s.Ran || s.Err != "" || s.Settled != steps[i].AfterStored {
			t.Errorf("chaos step %q: ran %v at %d settled (want %d), err %q", s.Name, s.Ran, s.Settled, steps[i].AfterStored, s.Err)
		}
	}
	if len(res.Steps) != len(steps) {
		t.Errorf("%d chaos steps reported, want %d", len(res.Steps), len(steps))
	}
	checkRun(t, e, res, true)
}

// pollUntil calls cond every 20 ms until it holds, ctx ends or d passes:
// the waiting of a chaos step, which runs off the test's goroutine.
func pollUntil(ctx context.Context, d time.Duration, cond func() bool) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// brokerCounter sums the local broker's agentchat_localbroker_<name>
// series for one Trigger, read from its /metrics; -1 when it cannot be
// read (it runs in this process: that is not expected).
func (e *env) brokerCounter(t *testing.T, name, trigger string) float64 {
	u, err := url.Parse(e.p.BrokerURL())
	if err != nil {
		t.Errorf("broker url: %v", err)
		return -1
	}
	resp, err := http.Get("http://" + u.Host + "/metrics")
	if err != nil {
		t.Errorf("broker metrics: %v", err)
		return -1
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Errorf("broker metrics: %v", err)
		return -1
	}
	prefix, label := "agentchat_localbroker_"+name+"{", `trigger="`+trigger+`"`
	var sum float64
	for _, line := range strings.Split(string(body), "\n") {
		if !strings.HasPrefix(line, prefix) || !strings.Contains(line, label) {
			continue
		}
		if i := strings.LastIndexByte(line, ' '); i > 0 {
			v, err := strconv.ParseFloat(line[i+1:], 64)
			if err == nil {
				sum += v
			}
		}
	}
	return sum
}

// A device offline while 1,000 messages arrive catches up, in order.
func TestOfflineDeviceCatchesUp(t *testing.T) {
	e := start(t, opts{connectors: 1, functions: spineFunctions})
	alice, bob := signup(t, e, "alice"), signup(t, e, "bob")
	ctx := context.Background()
	conv, err := alice.sess.CreateConversation(ctx, "direct", []string{alice.id, bob.id}, "")
	if err != nil {
		t.Fatal(err)
	}
	ca := alice.dial(t, e)
	const n = 1000
	stored := 0
	go func() {
		for i := range n {
			if _, err := ca.Send(ctx, conv.ID, e2ee.Content{Text: "offline " + strconv.Itoa(i)}); err != nil {
				t.Errorf("send: %v", err)
				return
			}
		}
	}()
	waitEvents(t, ca, 3*time.Minute, func(ev client.Event) bool {
		if s, ok := ev.(*client.Status); ok && s.State == client.StateStored {
			stored++
		}
		return stored == n
	})
	cb := bob.dial(t, e)
	cb.Track(conv.ID, 0)
	// Seqs are the server's order (the outbox may have several messages in
	// flight); every text must arrive once, in seq order.
	next, texts := int64(1), map[string]bool{}
	waitEvents(t, cb, 3*time.Minute, func(ev client.Event) bool {
		if m, ok := ev.(*client.Message); ok {
			if m.Seq != next {
				t.Fatalf("bob got seq %d, want %d", m.Seq, next)
			}
			if texts[m.Content.Text] {
				t.Fatalf("seq %d repeats %q", m.Seq, m.Content.Text)
			}
			texts[m.Content.Text] = true
			next++
		}
		return next > n
	})
	for i := range n {
		if !texts["offline "+strconv.Itoa(i)] {
			t.Errorf("message %d never arrived", i)
		}
	}
	e.checkStored(t, conv.ID, n)
}

// waitEvents feeds c's events to f until it returns true.
func waitEvents(t *testing.T, c *client.Client, d time.Duration, f func(client.Event) bool) {
	t.Helper()
	timeout := time.After(d)
	for {
		select {
		case ev, ok := <-c.Events():
			if !ok {
				t.Fatal("client closed")
			}
			if f(ev) {
				return
			}
		case <-timeout:
			t.Fatalf("timed out after %s", d)
		}
	}
}

// redisProc is a Redis server of the test's own, so it can be restarted.
type redisProc struct {
	port int
	dir  string
	cmd  *exec.Cmd
}

func startRedis(t *testing.T) *redisProc {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("redis-server not installed")
		}
		t.Skip("redis-server not installed")
	}
	r := &redisProc{port: testenv.FreePort(t), dir: t.TempDir()}
	t.Cleanup(func() { r.stop() })
	if err := r.launch(context.Background()); err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *redisProc) url() string { return "redis://127.0.0.1:" + strconv.Itoa(r.port) + "/0" }

// launch starts the server and returns once it answers PING.
func (r *redisProc) launch(ctx context.Context) error {
	r.cmd = exec.Command("redis-server", "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", r.dir)
	if err := r.cmd.Start(); err != nil {
		return fmt.Errorf("redis-server: %w", err)
	}
	err := pollUntil(ctx, 10*time.Second, func() bool {
		out, err := exec.Command("redis-cli", "-p", strconv.Itoa(r.port), "ping").Output()
		return err == nil && string(out) == "PONG\n"
	})
	if err != nil {
		return fmt.Errorf("redis on port %d did not start: %w", r.port, err)
	}
	return nil
}

func (r *redisProc) stop() {
	if r.cmd != nil && r.cmd.Process != nil {
		r.cmd.Process.Kill()
		r.cmd.Wait()
	}
}

// restart kills the server (-9) and starts it again, empty, on the same port.
func (r *redisProc) restart(ctx context.Context) error {
	r.stop()
	return r.launch(ctx)
}
