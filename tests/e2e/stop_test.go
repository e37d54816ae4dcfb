package e2e

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/agentchat/agentchat/sdk/client"
	"github.com/agentchat/agentchat/sdk/e2ee"
)

// Stopping the platform while messages are on their way (as the dev
// runner does on Ctrl-C) kills nothing and leaves nothing half done: the
// connectors drain, the broker finishes every delivery in flight before
// any function stops, and each function exits within its grace period of
// SIGTERM. Close reports a function it had to kill and a delivery left
// unfinished as errors.
func TestPlatformStopsCleanly(t *testing.T) {
	e := start(t, opts{connectors: 1, functions: spineFunctions})
	alice, bob := signup(t, e, "alice"), signup(t, e, "bob")
	ctx := context.Background()
	conv, err := alice.sess.CreateConversation(ctx, "direct", []string{alice.id, bob.id}, "")
	if err != nil {
		t.Fatal(err)
	}
	ca, cb := alice.dial(t, e), bob.dial(t, e)
	cb.Track(conv.ID, 0) // bob's device acks what it gets: receipts are in flight too
	const n = 10
	for i := range n {
		if _, err := ca.Send(ctx, conv.ID, e2ee.Content{Text: "before stop " + strconv.Itoa(i)}); err != nil {
			t.Fatalf("send: %v", err)
		}
	}
	// Stop once the first is stored, with the others on their way.
	waitEvents(t, ca, 2*time.Minute, func(ev client.Event) bool {
		s, ok := ev.(*client.Status)
		return ok && s.State == client.StateStored
	})
	stopCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	begin := time.Now()
	if err := e.p.Close(stopCtx); err != nil {
		t.Errorf("Close: %v", err)
	}
	t.Logf("the platform stopped in %s", time.Since(begin).Round(time.Millisecond))
	logs := e.logs.String()
	if !strings.Contains(logs, "closed, all deliveries finished") {
		t.Error(`the broker did not log "closed, all deliveries finished"`)
	}
	for _, bad := range []string{"deliveries unfinished", "SIGQUIT", ": killed"} {
		if strings.Contains(logs, bad) {
			t.Errorf("the platform's log says %q", bad)
		}
	}
	// What was stored is whole: no gap, no duplicate.
	seqs := e.storedSeqs(t, conv.ID)
	checkGapless(t, conv.ID, seqs, len(seqs))
	if len(seqs) == 0 {
		t.Error("nothing stored, though a stored tick came")
	}
}
