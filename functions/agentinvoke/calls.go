package function

import (
	"context"
	"time"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/tracing"
)

// claimOrResume makes sure someone works on call k: this instance if it
// already does or if it can claim the call (first delivery) or take it
// over (its owner's lease expired). It returns this instance's worker for
// k, or nil when another instance holds the call or it is finished.
func (f *Function) claimOrResume(ctx context.Context, d *deps, k callKey, inv *events.AgentInvoke) (*worker, error) {
	if w := f.runningWorker(k); w != nil {
		return w, nil
	}
	claimed, err := d.ledger.Claim(ctx, k, *inv, f.owner, time.Now().Add(d.cfg.Lease))
	if err != nil {
		return nil, err
	}
	if claimed {
		return f.spawn(ctx, d, k, 1, inv, true), nil
	}
	return f.resume(ctx, d, k, inv)
}

// resume takes call k over when nobody holds it any more: no attempt's
// lease runs and no outcome was delivered. The takeover is the insert of
// the next attempt, which only one instance can win.
func (f *Function) resume(ctx context.Context, d *deps, k callKey, inv *events.AgentInvoke) (*worker, error) {
	if w := f.runningWorker(k); w != nil {
		return w, nil
	}
	st, err := d.ledger.State(ctx, k)
	if err != nil {
		return nil, err
	}
	if !st.Exists || st.Finished || time.Now().Before(st.LeaseUntil) {
		return nil, nil
	}
	n := st.Latest.N + 1
	ok, err := d.ledger.TakeOver(ctx, k, n, f.owner, time.Now().Add(d.cfg.Lease))
	if err != nil || !ok {
		return nil, err
	}
	f.stats.takeovers.Add(1)
	f.logger().Info("agent-invoke: took a call over", "agent", k.Agent, "conversation", k.Conversation, "seq", k.Seq,
		"attempt", n, "from", st.Latest.Owner, "sent", st.Sent, "decided", st.Outcome != nil)
	return f.spawn(ctx, d, k, n, inv, false), nil
}

func (f *Function) runningWorker(k callKey) *worker {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.running[k.id()]
}

// spawn runs attempt n of call k in the background, tracked so that Stop
// can wait for it. nil when the instance is stopping: the attempt's lease
// then runs out and another instance takes the call over. inv is nil for
// a sweep's takeover: the turn reads it from the ledger. The turn
// outlives ctx (the invoke's request) but stays in its trace.
func (f *Function) spawn(ctx context.Context, d *deps, k callKey, n int, inv *events.AgentInvoke, fresh bool) *worker {
	f.mu.Lock()
	defer f.mu.Unlock()
	select {
	case <-d.stopping:
		return nil
	default:
	}
	if w := f.running[k.id()]; w != nil {
		return w
	}
	w := &worker{done: make(chan struct{})}
	waking := f.wakingNow(d)
	f.running[k.id()] = w
	f.stats.turns.Add(1)
	t := &turn{f: f, d: d, k: k, n: n, inv: inv, fresh: fresh, waking: waking,
		log: f.logger().With("agent", k.Agent, "conversation", k.Conversation, "seq", k.Seq, "attempt", n)}
	f.wg.Go(func() {
		defer func() {
			f.mu.Lock()
			delete(f.running, k.id())
			f.lastTurn = time.Now()
			f.mu.Unlock()
			close(w.done)
		}()
		t.run(tracing.Detach(d.ctx, ctx))
	})
	return w
}

// sweepBatch bounds the calls one sweep looks at.
const sweepBatch = 100

// sweep looks for unfinished calls every AGENT_SWEEP_INTERVAL (and once
// at start) and resumes those nobody holds: the broker got its 200 long
// ago, so after a crash nothing else would ever finish them.
func (f *Function) sweep(d *deps) {
	t := time.NewTicker(d.cfg.Sweep)
	defer t.Stop()
	for {
		ctx, cancel := context.WithTimeout(d.ctx, d.cfg.Sweep+10*time.Second)
		keys, err := d.ledger.Open(ctx, sweepBatch)
		if err != nil {
			f.logger().Warn("agent-invoke: sweep", "err", err)
		}
		for _, k := range keys {
			if _, ok := d.cfg.Keys[k.Agent]; !ok {
				continue // another runtime's agent
			}
			if _, err := f.resume(ctx, d, k, nil); err != nil {
				f.logger().Warn("agent-invoke: sweep: resume", "agent", k.Agent, "conversation", k.Conversation, "seq", k.Seq, "err", err)
			}
		}
		cancel()
		select {
		case <-t.C:
		case <-d.stopping:
			return
		}
	}
}
