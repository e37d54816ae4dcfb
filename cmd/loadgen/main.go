// Command loadgen drives N real clients × M messages through a running
// agentchat (or one it starts itself) and prints throughput, send→deliver
// latency percentiles, and lost and duplicated counts.
//
//	loadgen -accounts http://127.0.0.1:8081 -connectors ws://127.0.0.1:8080/ws -clients 20 -messages 10000
//	loadgen -self -clients 20 -messages 10000   # start a platform with the test services in env
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/agentchat/agentchat/internal/loadrun"
	"github.com/agentchat/agentchat/internal/platform"
)

func main() {
	accounts := flag.String("accounts", "http://127.0.0.1:8081", "accounts base URL")
	conns := flag.String("connectors", "ws://127.0.0.1:8080/ws", "comma-separated connector WebSocket URLs")
	self := flag.Bool("self", false, "start a platform (2 connectors) on REDIS_URL, MONGODB_URI instead of using a running one")
	clients := flag.Int("clients", 20, "connected clients")
	offline := flag.Int("offline", 0, "offline members of the group")
	group := flag.Int("group", 20, "size of the group conversation (0: none)")
	messages := flag.Int("messages", 2000, "messages in total")
	window := flag.Int("window", 8, "messages per client sent but not yet stored")
	read := flag.Bool("read", false, "mark read at the end and wait for read ticks")
	sources := flag.String("sources", "", "comma-separated loopback source addresses for client sockets")
	timeout := flag.Duration("timeout", 10*time.Minute, "give up after")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

	ctx := context.Background()
	urls := strings.Split(*conns, ",")
	if *self {
		p, err := platform.Start(ctx, platform.Config{
			RedisURL: os.Getenv("REDIS_URL"), MongoURI: os.Getenv("MONGODB_URI"),
			Database: fmt.Sprintf("loadgen_%d", time.Now().Unix()), RedisPrefix: fmt.Sprintf("loadgen%d:", time.Now().Unix()),
			Connectors: 2, Logger: log, LogWriter: discard{},
		})
		if err != nil {
			fmt.Fprintln(os.Stderr, "loadgen:", err)
			os.Exit(1)
		}
		defer p.Close(context.Background())
		*accounts, urls = p.AccountsURL(), p.ConnectorURLs()
	}
	o := loadrun.Options{AccountsURL: *accounts, ConnectorURLs: urls, Clients: *clients, Offline: *offline,
		GroupSize: *group, Messages: *messages, Window: *window, Read: *read, Timeout: *timeout, Logger: log}
	if *sources != "" {
		o.SourceAddrs = strings.Split(*sources, ",")
	}
	fmt.Println("loadgen:", o.Describe())
	res, err := loadrun.Run(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
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
		os.Exit(1)
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
