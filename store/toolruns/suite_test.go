package toolruns

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentchat/agentchat/store/storetest"
)

func TestMemory(t *testing.T) { suite(t, NewMemory()) }

func TestMongo(t *testing.T) {
	m := NewMongo(storetest.Mongo(t, "toolruns").DB)
	if err := m.EnsureIndexes(context.Background()); err != nil {
		t.Fatal(err)
	}
	suite(t, m)
}

// runs is sdk/tool's Runs, as the tool functions use it, and the expiry
// of the claims.
type runs interface {
	Claim(ctx context.Context, tool, callID string) (bool, error)
	Expire(ctx context.Context, now time.Time) (int64, error)
}

// suite: of concurrent claims of one call exactly one wins, whichever
// handle; calls and tools are claimed apart; claims are kept for
// DefaultRetention, then expire (and the call could be claimed again).
func suite(t *testing.T, runs runs) {
	ctx := context.Background()
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			ok, err := runs.Claim(ctx, "http", "tc-1")
			if err != nil {
				t.Error(err)
			}
			if ok {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Errorf("claims won = %d, want 1", wins.Load())
	}
	for _, c := range []struct{ tool, call string }{{"http", "tc-2"}, {"history", "tc-1"}} {
		if ok, err := runs.Claim(ctx, c.tool, c.call); !ok || err != nil {
			t.Errorf("claim %s/%s = %v %v, want a first claim", c.tool, c.call, ok, err)
		}
	}
	if ok, _ := runs.Claim(ctx, "history", "tc-1"); ok {
		t.Error("a second claim won")
	}
	if n, err := runs.Expire(ctx, time.Now()); n != 0 || err != nil {
		t.Errorf("Expire now = %d, %v; want nothing expired", n, err)
	}
	if n, err := runs.Expire(ctx, time.Now().Add(DefaultRetention+time.Minute)); n != 3 || err != nil {
		t.Errorf("Expire after the retention = %d, %v; want the 3 claims", n, err)
	}
	if ok, err := runs.Claim(ctx, "history", "tc-1"); !ok || err != nil {
		t.Errorf("claim after expiry = %v %v, want a first claim", ok, err)
	}
}
