// Command loadgen drives N real clients × M messages through a running
// agentchat (or one it starts itself) and prints throughput, send→deliver
// latency percentiles, and lost and duplicated counts.
//
//	loadgen -accounts http://127.0.0.1:8081 -connectors ws://127.0.0.1:8080/ws -clients 20 -messages 10000
//	loadgen -self -clients 20 -messages 10000   # start a platform of its own
//	loadgen -self -group 0 -rate 100 -messages 3000   # open loop: 100 msgs/s offered
//
// By default each client keeps -window messages sent but not yet stored
// (closed loop: the platform sets the pace). With -rate the messages go out
// at fixed intended times whatever the platform does (open loop), and
// latency is counted from the intended send time, so that queueing is not
// hidden.
//
// With -self it starts the messaging spine (accounts, persist, route,
// deadletter; no agents, no media) and 2 connectors on the Redis and
// MongoDB that REDIS_URL and MONGODB_URI name, or on embedded ones when
// they are unset (as the dev runner does), in a database of its own, and
// stops it all at the end.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/kelseyhightower/envconfig"

	"github.com/agentchat/agentchat/internal/backing"
	"github.com/agentchat/agentchat/internal/loadrun"
	"github.com/agentchat/agentchat/internal/platform"
)

// spine is what a load run needs: the functions every message goes
// through. Agents and media need keys and S3 and take no part in a run.
const spine = "accounts,persist,route,deadletter"

func main() { os.Exit(run()) }

func run() int {
	accounts := flag.String("accounts", "http://127.0.0.1:8081", "accounts base URL")
	conns := flag.String("connectors", "ws://127.0.0.1:8080/ws", "comma-separated connector WebSocket URLs")
	self := flag.Bool("self", false, "start a platform (2 connectors) on REDIS_URL, MONGODB_URI (embedded ones when unset) instead of using a running one")
	functions := flag.String("functions", spine, "with -self: the functions to start (comma-separated func names)")
	clients := flag.Int("clients", 20, "connected clients")
	offline := flag.Int("offline", 0, "offline members of the group")
	group := flag.Int("group", 20, "size of the group conversation (0: none)")
	messages := flag.Int("messages", 2000, "messages in total")
	window := flag.Int("window", 8, "messages per client sent but not yet stored (closed loop)")
	rate := flag.Float64("rate", 0, "open loop: messages per second offered in total (0: closed loop, -window)")
	read := flag.Bool("read", false, "mark read at the end and wait for read ticks")
	sources := flag.String("sources", "", "comma-separated loopback source addresses for client sockets")
	timeout := flag.Duration("timeout", 10*time.Minute, "give up after")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	urls := strings.Split(*conns, ",")
	if *self {
		p, closeAll, err := startPlatform(ctx, log, strings.Split(*functions, ","))
		if err != nil {
			fmt.Fprintln(os.Stderr, "loadgen:", err)
			return 1
		}
		defer closeAll()
		*accounts, urls = p.AccountsURL(), p.ConnectorURLs()
	}
	o := loadrun.Options{AccountsURL: *accounts, ConnectorURLs: urls, Clients: *clients, Offline: *offline,
		GroupSize: *group, Messages: *messages, Window: *window, Rate: *rate, Read: *read, Timeout: *timeout, Logger: log}
	if *sources != "" {
		o.SourceAddrs = strings.Split(*sources, ",")
	}
	fmt.Println("loadgen:", o.Describe())
	res, err := loadrun.Run(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		return 1
	}
	fmt.Printf("throughput: %.0f messages/s stored (%d in %s)\n", res.Throughput(), res.Stored, res.SendDuration.Round(time.Millisecond))
	fmt.Printf("deliveries: %d of %d expected, %.0f/s\n", res.Received, res.Expected, float64(res.Received)/res.Duration.Seconds())
	fmt.Printf("latency send→deliver: p50=%s p90=%s p99=%s max=%s\n", res.Percentile(50).Round(time.Millisecond),
		res.Percentile(90).Round(time.Millisecond), res.Percentile(99).Round(time.Millisecond), res.Percentile(100).Round(time.Millisecond))
	fmt.Printf("lost=%d duplicated=%d out_of_order=%d undecryptable=%d ticks: delivered %d/%d read %d/%d\n",
		res.Lost, res.Duplicates, res.OutOfOrder, res.Undecryptable, res.DeliveredTick, res.TickEligible, res.ReadTick, res.TickEligible)
	for i, e := range res.Errors {
		if i == 10 {
			break
		}
		fmt.Println("error:", e)
	}
	if !res.OK() {
		return 1
	}
	return 0
}

// startPlatform starts the backing services that REDIS_URL and MONGODB_URI
// do not name, then the platform with the given functions; closeAll stops
// both, platform first.
func startPlatform(ctx context.Context, log *slog.Logger, functions []string) (_ *platform.Platform, closeAll func(), err error) {
	var bcfg backing.Config
	if err := envconfig.Process("", &bcfg); err != nil {
		return nil, nil, fmt.Errorf("config: %w", err)
	}
	bcfg.NoS3, bcfg.Logger = true, log
	svc, err := backing.Start(ctx, bcfg)
	if err != nil {
		return nil, nil, err
	}
	run := time.Now().Unix()
	p, err := platform.Start(ctx, platform.Config{
		RedisURL: svc.RedisURL, MongoURI: svc.MongoURI,
		Database: fmt.Sprintf("loadgen_%d", run), RedisPrefix: fmt.Sprintf("loadgen%d:", run),
		Connectors: 2, Functions: functions, Logger: log, LogWriter: discard{},
		// Every load user signs up and registers its device from this one
		// address: far beyond accounts' per-address defaults.
		Env: map[string]string{"REGISTER_RATE": "signup=1000000/1h,device=1000000/1h"},
	})
	if err != nil {
		svc.Close()
		return nil, nil, err
	}
	return p, func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := p.Close(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "loadgen: stop platform:", err)
		}
		svc.Close()
	}, nil
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
