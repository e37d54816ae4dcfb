// Package pipebench is make bench-pipeline: it measures, in one run on
// the given Redis and MongoDB (FerretDB on PostgreSQL under the test
// command's services), how close the message pipeline comes to its
// storage, and prints one line (Result.Line):
//
//	pipeline: storage_inserts_per_s=N saturation_msgs_per_s=N ratio=R cmds_per_msg=C p50_ms_at_half=X p99_ms_at_half=Y
//
// Its measurements:
//
//   - storage_inserts_per_s: the storage alone, inserting the message
//     document persist stores (InsertRate: store/messages' Insert, with
//     its unique indexes) from 8 writers, before the platform starts (it
//     has the machine to itself).
//   - saturation_msgs_per_s: the platform (the dev runner's broker with the
//     real Trigger files, the spine functions as func-go processes, 2
//     connectors) driven in closed loop by real clients (internal/loadrun)
//     in direct conversations with ✓✓ ticks on: messages stored per second.
//   - cmds_per_msg: MongoDB commands that every function process sent
//     during that load (counted at the driver, store.CountCommands, and
//     reported through store.CommandCountsDirEnv) per stored message.
//   - p50/p99_ms_at_half: send→deliver latency in open loop at half the
//     saturation rate, counted from each message's intended send time;
//     the loads at 25 % and 80 % are printed before the line.
//
// Every load is a count of messages, not a time. A benchmark prints
// numbers; it fails only when the platform loses, duplicates or reorders
// messages, or does not start.
package pipebench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/agentchat/agentchat/internal/loadrun"
	"github.com/agentchat/agentchat/internal/platform"
	"github.com/agentchat/agentchat/store"
)

// Spine is the functions a message goes through; agents and media take no
// part in the load.
var Spine = []string{"accounts", "persist", "route", "deadletter"}

// Config shapes one run; zero fields take the defaults of make
// bench-pipeline (Defaults).
type Config struct {
	RedisURL, MongoURI string
	// Database and RedisPrefix name this run's data; default from the
	// time. The databases are dropped at the end.
	Database, RedisPrefix string

	Writers int // storage: concurrent writers (8)
	Inserts int // storage: documents inserted in the measured part (6000)

	Connectors int // connector processes (2)
	Clients    int // connected users, each in a direct conversation with the next (20)
	Warmup     int // messages sent first, not measured (400)
	Saturation int // messages of the closed loop (3000)
	Window     int // closed loop: messages per client sent but not stored (4)
	OpenLoad   int // messages of each open-loop load (1200)
	// Fractions of the saturation rate offered in open loop (0.25, 0.5,
	// 0.8); the line reports the load at 0.5.
	Fractions []float64
	// LoadTimeout bounds each load (10 min).
	LoadTimeout time.Duration

	Out       io.Writer // a line per measurement; nil: discarded
	LogWriter io.Writer // the platform's processes' output; nil: discarded
}

// Defaults fills c's zero fields.
func (c Config) Defaults() Config {
	run := time.Now().Unix()
	set := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	if c.Database == "" {
		c.Database = fmt.Sprintf("bench_%d", run)
	}
	if c.RedisPrefix == "" {
		c.RedisPrefix = fmt.Sprintf("bench%d:", run)
	}
	set(&c.Writers, 8)
	set(&c.Inserts, 6000)
	set(&c.Connectors, 2)
	set(&c.Clients, 20)
	set(&c.Warmup, 400)
	set(&c.Saturation, 3000)
	set(&c.Window, 4)
	set(&c.OpenLoad, 1200)
	if len(c.Fractions) == 0 {
		c.Fractions = []float64{0.25, 0.5, 0.8}
	}
	if c.LoadTimeout == 0 {
		c.LoadTimeout = 10 * time.Minute
	}
	if c.Out == nil {
		c.Out = io.Discard
	}
	if c.LogWriter == nil {
		c.LogWriter = io.Discard
	}
	return c
}

// Result is what one run measured.
type Result struct {
	StorageInsertsPerS float64
	SaturationPerS     float64
	Stored             int                         // messages of the closed loop
	Commands           map[string]map[string]int64 // by app and command, during the closed loop
	Open               []OpenResult
}

// OpenResult is one open-loop load.
type OpenResult struct {
	Fraction, Offered, StoredPerS float64
	P50, P99, Max                 time.Duration
}

// Ratio is the pipeline's saturation over the storage's own insert rate.
func (r Result) Ratio() float64 {
	if r.StorageInsertsPerS == 0 {
		return 0
	}
	return r.SaturationPerS / r.StorageInsertsPerS
}

// CmdsPerMsg is storage commands per stored message in the closed loop.
func (r Result) CmdsPerMsg() float64 {
	return float64(totalCommands(r.Commands)) / float64(max(1, r.Stored))
}

// AtHalf is the open-loop load nearest half the saturation rate.
func (r Result) AtHalf() OpenResult {
	var best OpenResult
	for i, o := range r.Open {
		if i == 0 || abs(o.Fraction-0.5) < abs(best.Fraction-0.5) {
			best = o
		}
	}
	return best
}

func abs(x float64) float64 { return max(x, -x) }

// Line is the run's one-line summary.
func (r Result) Line() string {
	h := r.AtHalf()
	return fmt.Sprintf("pipeline: storage_inserts_per_s=%.0f saturation_msgs_per_s=%.0f ratio=%.3f cmds_per_msg=%.2f p50_ms_at_half=%.1f p99_ms_at_half=%.1f",
		r.StorageInsertsPerS, r.SaturationPerS, r.Ratio(), r.CmdsPerMsg(), ms(h.P50), ms(h.P99))
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Run measures; see the package doc. Progress goes to c.Out, a line per
// measurement.
func Run(ctx context.Context, c Config) (res Result, err error) {
	c = c.Defaults()
	say := func(format string, args ...any) { fmt.Fprintf(c.Out, format+"\n", args...) }
	defer DropDatabases(c.MongoURI, c.Database, c.Database+"_inserts")

	res.StorageInsertsPerS, err = InsertRate(ctx, c.MongoURI, c.Database+"_inserts", c.Writers, c.Inserts)
	if err != nil {
		return res, err
	}
	say("storage: inserts_per_s=%.0f writers=%d inserts=%d", res.StorageInsertsPerS, c.Writers, c.Inserts)

	counts, err := os.MkdirTemp("", "bench-pipeline-counts-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(counts)
	log := slog.New(slog.NewTextHandler(c.LogWriter, &slog.HandlerOptions{Level: slog.LevelWarn}))
	p, err := platform.Start(ctx, platform.Config{
		RedisURL: c.RedisURL, RedisPrefix: c.RedisPrefix, MongoURI: c.MongoURI, Database: c.Database,
		Connectors: c.Connectors, Functions: Spine, Logger: log, LogWriter: c.LogWriter,
		Env: map[string]string{
			// Every load user signs up from this one address.
			"REGISTER_RATE":           "signup=1000000/1h,device=1000000/1h",
			store.CommandCountsDirEnv: counts,
		},
	})
	if err != nil {
		return res, fmt.Errorf("pipebench: start platform: %w", err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), platform.DrainTimeout+40*time.Second)
		defer cancel()
		p.Close(ctx)
	}()
	s, err := loadrun.Setup(ctx, loadrun.Options{AccountsURL: p.AccountsURL(), ConnectorURLs: p.ConnectorURLs(),
		Clients: c.Clients, GroupSize: 0, Logger: log})
	if err != nil {
		return res, err
	}
	defer s.Close()
	load := func(name string, o loadrun.Options) (loadrun.Result, error) {
		o.Ticks, o.Timeout = true, c.LoadTimeout
		r, err := s.Run(ctx, o)
		if err == nil && !r.OK() {
			err = fmt.Errorf("pipebench: %s: the platform failed its messages: %s; first errors: %v", name, r, r.Errors[:min(5, len(r.Errors))])
		}
		return r, err
	}

	if _, err := load("warm-up", loadrun.Options{Messages: c.Warmup, Window: c.Window}); err != nil {
		return res, err
	}
	before, err := snapshotCommands(ctx, counts, time.Now())
	if err != nil {
		return res, err
	}
	sat, err := load("saturation", loadrun.Options{Messages: c.Saturation, Window: c.Window})
	if err != nil {
		return res, err
	}
	after, err := snapshotCommands(ctx, counts, time.Now())
	if err != nil {
		return res, err
	}
	res.SaturationPerS, res.Stored = sat.Throughput(), sat.Stored
	res.Commands = commandsByApp(before, after)
	say("saturation: stored_per_s=%.0f messages=%d clients=%d window=%d (closed loop, direct conversations, ticks on) p50=%s p99=%s",
		res.SaturationPerS, sat.Stored, c.Clients, c.Window, sat.Percentile(50).Round(time.Millisecond), sat.Percentile(99).Round(time.Millisecond))
	say("commands: %.2f per stored message: %s", res.CmdsPerMsg(), describeCommands(res.Commands, res.Stored))

	if res.SaturationPerS <= 0 {
		return res, fmt.Errorf("pipebench: saturation: no rate measured (%s)", sat)
	}
	for _, f := range c.Fractions {
		rate := f * res.SaturationPerS
		r, err := load(fmt.Sprintf("open loop at %.0f%%", f*100), loadrun.Options{Messages: c.OpenLoad, Rate: rate})
		if err != nil {
			return res, err
		}
		o := OpenResult{Fraction: f, Offered: rate, StoredPerS: r.Throughput(),
			P50: r.Percentile(50), P99: r.Percentile(99), Max: r.Percentile(100)}
		res.Open = append(res.Open, o)
		say("open loop at %.0f%%: offered_per_s=%.0f stored_per_s=%.0f messages=%d latency p50=%.1fms p99=%.1fms max=%.1fms",
			f*100, o.Offered, o.StoredPerS, r.Stored, ms(o.P50), ms(o.P99), ms(o.Max))
	}
	return res, nil
}

// DropDatabases drops a run's databases (the platform's, and the storage
// measurement's), so that a run against long-lived services leaves
// nothing behind.
func DropDatabases(uri string, names ...string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client, err := mongo.Connect(options.Client().ApplyURI(uri))
	if err != nil {
		return
	}
	defer client.Disconnect(ctx)
	for _, n := range names {
		client.Database(n).Drop(ctx)
	}
}
