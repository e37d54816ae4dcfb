package e2e

import (
	"context"
	"os"
	"os/exec"
	"strconv"
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
	// What MongoDB holds: each message exactly once, seqs gapless.
	total := 0
	for _, conv := range res.ConversationIDs {
		seqs := e.storedSeqs(t, conv)
		checkGapless(t, conv, seqs, len(seqs))
		total += len(seqs)
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
// subscription was down come back with the next sync's cursors.
func TestSpineSurvivesCrashes(t *testing.T) {
	redis := startRedis(t)
	e := start(t, opts{connectors: 2, redisURL: redis.url(), functions: spineFunctions})
	step := func(ctx context.Context, d time.Duration) bool {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(d):
			return true
		}
	}
	chaos := make(chan string, 16)
	// The blows are spread over the run: a send phase of about messages/40
	// seconds here (docs/operations.md), cut in eight.
	messages := spineMessages(10_000)
	gap := max(time.Second, time.Duration(messages)*time.Second/40/8)
	res, err := loadrun.Run(context.Background(), loadrun.Options{
		AccountsURL: e.p.AccountsURL(), ConnectorURLs: e.p.ConnectorURLs(),
		Clients: 20, Offline: 30, GroupSize: 50, Messages: messages, Read: true,
		Timeout: 20 * time.Minute, Progress: func(l string) { t.Log("progress: " + l) },
		During: func(ctx context.Context) {
			if !step(ctx, gap) {
				return
			}
			e.p.Connector(0).Kill()
			chaos <- "killed connector-0 (-9)"
			if !step(ctx, gap) {
				return
			}
			e.p.Function("persist").Kill()
			chaos <- "killed persist (-9)"
			step(ctx, 500*time.Millisecond)
			if err := e.p.Function("persist").Restart(ctx); err != nil {
				chaos <- "persist restart failed: " + err.Error()
			}
			chaos <- "restarted persist"
			if !step(ctx, gap) {
				return
			}
			e.p.Function("route").Kill()
			chaos <- "killed route (-9)"
			step(ctx, 500*time.Millisecond)
			if err := e.p.Function("route").Restart(ctx); err != nil {
				chaos <- "route restart failed: " + err.Error()
			}
			chaos <- "restarted route"
			if !step(ctx, gap) {
				return
			}
			redis.restart(t)
			chaos <- "restarted redis"
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	close(chaos)
	var did []string
	for c := range chaos {
		did = append(did, c)
		t.Log("chaos: " + c)
	}
	if len(did) < 6 {
		t.Errorf("chaos did not finish (%d steps): the run ended before it — raise the message count", len(did))
	}
	checkRun(t, e, res, true)
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
	checkGapless(t, conv.ID, e.storedSeqs(t, conv.ID), n)
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
	r.launch(t)
	t.Cleanup(func() { r.stop() })
	return r
}

func (r *redisProc) url() string { return "redis://127.0.0.1:" + strconv.Itoa(r.port) + "/0" }

func (r *redisProc) launch(t *testing.T) {
	r.cmd = exec.Command("redis-server", "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", r.dir)
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("redis-server: %v", err)
	}
	testenv.Eventually(t, 10*time.Second, 20*time.Millisecond, func() bool {
		out, err := exec.Command("redis-cli", "-p", strconv.Itoa(r.port), "ping").Output()
		return err == nil && string(out) == "PONG\n"
	}, "redis on port %d did not start", r.port)
}

func (r *redisProc) stop() {
	if r.cmd != nil && r.cmd.Process != nil {
		r.cmd.Process.Kill()
		r.cmd.Wait()
	}
}

func (r *redisProc) restart(t *testing.T) {
	r.stop()
	r.launch(t)
}
