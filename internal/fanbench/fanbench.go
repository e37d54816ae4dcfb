// Package fanbench is make bench-fanout: one big group's fan-out through
// the platform (the dev runner's broker with the real Trigger files, the
// spine functions as func-go processes, 2 connectors on one Redis and
// MongoDB), measured with real clients (internal/loadrun), and one line
// (Result.Line):
//
//	fanout: members=1024 online=N p50_ms=X p99_ms=Y bytes_per_delivery=B
//
// Its measurements:
//
//   - members: the group's size; Online of them are connected, spread
//     over the connectors, the rest have a registered device that never
//     connects (their deliveries wait in storage, as for a phone that is
//     off).
//   - p50_ms, p99_ms: for each message, from its intended send time (an
//     open loop at Rate messages per second, sent by the senders in turn)
//     to its delivery to the last connected member: the fan-out's tail,
//     queueing included.
//   - bytes_per_delivery: what the listeners' sockets (the connected
//     members that do not send) read during the measured load, per
//     message they were shown — frames, WebSocket framing and everything
//     else they were sent, so nothing the wire carries per delivery is
//     hidden.
//
// Every text is TextSize bytes (100). Senders (10) of the connected
// members send; a warm-up goes first, Warmup (2) messages from each
// sender — its first one after its sender key's distribution to every
// member device, which it does once per group and membership — and is
// reported on its own line, not in the summary. Like make bench-pipeline
// it fails only when messages are lost, duplicated or reordered, or the
// platform does not start.
package fanbench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/agentchat/agentchat/internal/loadrun"
	"github.com/agentchat/agentchat/internal/pipebench"
	"github.com/agentchat/agentchat/internal/platform"
)

// Config shapes one run; zero fields take make bench-fanout's defaults.
type Config struct {
	RedisURL, MongoURI string
	// Database and RedisPrefix name this run's data; default from the
	// time. The database is dropped at the end.
	Database, RedisPrefix string

	Members int // the group's size (1024)
	Online  int // connected members (50)
	// Senders of the connected members send (10); the others only
	// receive, and their sockets count the bytes (listeners). A big group
	// is many readers and a few writers; each writer hands its sender key
	// to every member device once (a distribution), in the warm-up.
	Senders    int
	Connectors int     // connector processes (2)
	Rate       float64 // messages per second (10)
	Messages   int     // measured messages (300: 30 s at 10/s)
	Warmup     int     // messages each sender sends before, not measured (2)
	TextSize   int     // bytes of each text (100)
	// LoadTimeout bounds each load (10 min).
	LoadTimeout time.Duration

	Out       io.Writer // a line per phase; nil: discarded
	LogWriter io.Writer // the platform's processes' output; nil: discarded
}

// Defaults fills c's zero fields.
func (c Config) Defaults() Config {
	run := time.Now().Unix()
	if c.Database == "" {
		c.Database = fmt.Sprintf("fanout_%d", run)
	}
	if c.RedisPrefix == "" {
		c.RedisPrefix = fmt.Sprintf("fanout%d:", run)
	}
	set := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	set(&c.Members, 1024)
	set(&c.Online, 50)
	set(&c.Senders, 10)
	set(&c.Connectors, 2)
	set(&c.Messages, 300)
	set(&c.Warmup, 2)
	set(&c.TextSize, 100)
	if c.Rate == 0 {
		c.Rate = 10
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
	Members, Online int
	Load            loadrun.Result // the measured load
}

// BytesPerDelivery is what a listener's socket read per message shown.
func (r Result) BytesPerDelivery() float64 {
	if r.Load.ListenerReceived == 0 {
		return 0
	}
	return float64(r.Load.ListenerBytes) / float64(r.Load.ListenerReceived)
}

// Line is the run's one-line summary.
func (r Result) Line() string {
	return fmt.Sprintf("fanout: members=%d online=%d p50_ms=%.1f p99_ms=%.1f bytes_per_delivery=%.0f",
		r.Members, r.Online, ms(r.Load.LastPercentile(50)), ms(r.Load.LastPercentile(99)), r.BytesPerDelivery())
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Run measures; see the package doc.
func Run(ctx context.Context, c Config) (res Result, err error) {
	c = c.Defaults()
	if c.Online > c.Members || c.Senders >= c.Online {
		return res, fmt.Errorf("fanbench: online (%d) must be at most members (%d) and above senders (%d)", c.Online, c.Members, c.Senders)
	}
	res.Members, res.Online = c.Members, c.Online
	say := func(format string, args ...any) { fmt.Fprintf(c.Out, format+"\n", args...) }
	defer pipebench.DropDatabases(c.MongoURI, c.Database)

	log := slog.New(slog.NewTextHandler(c.LogWriter, &slog.HandlerOptions{Level: slog.LevelWarn}))
	p, err := platform.Start(ctx, platform.Config{
		RedisURL: c.RedisURL, RedisPrefix: c.RedisPrefix, MongoURI: c.MongoURI, Database: c.Database,
		Connectors: c.Connectors, Functions: pipebench.Spine, Logger: log, LogWriter: c.LogWriter,
		Env: map[string]string{
			// Every member signs up from this one address.
			"REGISTER_RATE": "signup=1000000/1h,device=1000000/1h",
		},
	})
	if err != nil {
		return res, fmt.Errorf("fanbench: start platform: %w", err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), platform.DrainTimeout+40*time.Second)
		defer cancel()
		p.Close(ctx)
	}()
	start := time.Now()
	s, err := loadrun.Setup(ctx, loadrun.Options{AccountsURL: p.AccountsURL(), ConnectorURLs: p.ConnectorURLs(),
		Clients: c.Online, Offline: c.Members - c.Online, GroupSize: c.Members, GroupOnly: true,
		Listeners: c.Online - c.Senders, Logger: log})
	if err != nil {
		return res, err
	}
	defer s.Close()
	say("setup: members=%d online=%d senders=%d connectors=%d (signed up, group created, connected in %s)",
		c.Members, c.Online, c.Senders, c.Connectors, time.Since(start).Round(time.Second))
	load := func(name string, o loadrun.Options) (loadrun.Result, error) {
		o.Timeout, o.TextSize = c.LoadTimeout, c.TextSize
		r, err := s.Run(ctx, o)
		if err == nil && !r.OK() {
			err = fmt.Errorf("fanbench: %s: the platform failed its messages: %s; first errors: %v", name, r, r.Errors[:min(5, len(r.Errors))])
		}
		return r, err
	}
	// Every sender's first message goes after its distribution: the
	// warm-up has each send Warmup messages.
	warm, err := load("warm-up", loadrun.Options{Messages: c.Warmup * c.Senders, Window: 1})
	if err != nil {
		return res, err
	}
	say("warm-up: messages=%d (distributions first) last member p50=%.1fms p99=%.1fms; listeners read %d bytes for %d deliveries",
		warm.Stored, ms(warm.LastPercentile(50)), ms(warm.LastPercentile(99)), warm.ListenerBytes, warm.ListenerReceived)
	res.Load, err = load("measured", loadrun.Options{Messages: c.Messages, Rate: c.Rate})
	if err != nil {
		return res, err
	}
	say("load: rate=%g/s messages=%d deliveries=%d to the last member p50=%.1fms p99=%.1fms max=%.1fms; any member p50=%.1fms p99=%.1fms; listeners read %d bytes for %d deliveries",
		c.Rate, res.Load.Stored, res.Load.Received, ms(res.Load.LastPercentile(50)), ms(res.Load.LastPercentile(99)),
		ms(res.Load.LastPercentile(100)), ms(res.Load.Percentile(50)), ms(res.Load.Percentile(99)),
		res.Load.ListenerBytes, res.Load.ListenerReceived)
	for _, tr := range res.Load.Slowest {
		say("slowest: %s", tr)
	}
	return res, nil
}
