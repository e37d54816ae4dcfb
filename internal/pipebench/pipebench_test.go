package pipebench

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/agentchat/agentchat/internal/testenv"
)

// lines collects what Run prints (from its own goroutine only).
type lines struct{ strings.Builder }

// TestBenchPipeline is make bench-pipeline at a tiny scale, in every test
// run: the harness works end to end — the storage measurement, the
// platform under closed and open loads, every function process's command
// reports reaching the bench — and the line has its shape. It checks no
// speed.
func TestBenchPipeline(t *testing.T) {
	const window = 2 // messages a client has in flight
	redisURL, prefix := testenv.Redis(t)
	mongoURI := testenv.Env(t, testenv.EnvMongoURI)
	var out lines
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	res, err := Run(ctx, Config{
		RedisURL: redisURL, RedisPrefix: prefix, MongoURI: mongoURI,
		Database: fmt.Sprintf("pipebench_%d", time.Now().UnixNano()),
		Writers:  2, Inserts: 40, Connectors: 1, Clients: 4, Warmup: 8, Saturation: 40, Window: window, OpenLoad: 12,
		Out: &out,
	})
	t.Log("\n" + out.String())
	if err != nil {
		t.Fatal(err)
	}
	line := res.Line()
	t.Log(line)
	re := regexp.MustCompile(`^pipeline: storage_inserts_per_s=\d+ saturation_msgs_per_s=\d+ ratio=\d+\.\d+ cmds_per_msg=\d+\.\d+ p50_ms_at_half=\d+\.\d p99_ms_at_half=\d+\.\d$`)
	if !re.MatchString(line) {
		t.Errorf("line %q does not have the documented shape", line)
	}
	if res.StorageInsertsPerS <= 0 || res.SaturationPerS <= 0 || res.Stored != 40 {
		t.Errorf("storage %.0f/s, saturation %.0f/s over %d stored; want both measured over 40", res.StorageInsertsPerS, res.SaturationPerS, res.Stored)
	}
	// Messages are stored by inserts — those of one conversation in flight
	// together may share one (persist's group commit), and a client has at
	// most Window in flight, each in its own conversation — and every
	// function that opens MongoDB (persist, route, accounts) reports: the
	// reports reached the bench.
	var inserts int64
	for _, m := range res.Commands {
		inserts += m["insert"]
	}
	if inserts < int64(res.Stored/window) || len(res.Commands) < 3 {
		t.Errorf("commands during the closed loop: %v; want reports of persist, route and accounts, and at least %d inserts", res.Commands, res.Stored/window)
	}
	if len(res.Open) != 3 {
		t.Fatalf("open loads: %d, want 3", len(res.Open))
	}
	for _, o := range res.Open {
		if o.Offered <= 0 || o.P50 <= 0 || o.P99 < o.P50 {
			t.Errorf("open load %+v: want a rate offered and latencies measured", o)
		}
	}
}
