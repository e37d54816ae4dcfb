// Command benchfanout is make bench-fanout's measurement (see package
// internal/fanbench): one group of 1,024 members, some of them connected
// over 2 connectors, messages at a fixed rate, on the Redis and MongoDB
// that the flags (default: the test command's AGENTCHAT_TEST_* services)
// name. It ends with one line:
//
//	fanout: members=1024 online=N p50_ms=X p99_ms=Y bytes_per_delivery=B
//
// make bench-fanout starts the services (tests/run.sh services) and runs
// it; by hand, with services already running:
//
//	source $WORK/env && go run ./cmd/benchfanout
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/agentchat/agentchat/internal/fanbench"
)

func main() { os.Exit(run()) }

func run() int {
	var c fanbench.Config
	flag.StringVar(&c.RedisURL, "redis", os.Getenv("AGENTCHAT_TEST_REDIS_URL"), "Redis URL")
	flag.StringVar(&c.MongoURI, "mongo", os.Getenv("AGENTCHAT_TEST_MONGODB_URI"), "MongoDB (FerretDB) URI")
	flag.IntVar(&c.Members, "members", 1024, "the group's members")
	flag.IntVar(&c.Online, "online", 50, "members connected")
	flag.IntVar(&c.Senders, "senders", 10, "connected members that send (the others only receive, and their sockets count bytes)")
	flag.Float64Var(&c.Rate, "rate", 10, "messages per second")
	flag.IntVar(&c.Messages, "messages", 300, "messages measured")
	flag.IntVar(&c.Warmup, "warmup", 2, "messages each sender sends first, not measured (its first after its sender key's distribution)")
	flag.IntVar(&c.TextSize, "text", 100, "bytes of each text")
	logs := flag.String("logs", "", "write the platform's output to this file")
	timeout := flag.Duration("timeout", 30*time.Minute, "give up after")
	flag.Parse()
	if c.RedisURL == "" || c.MongoURI == "" {
		fmt.Fprintln(os.Stderr, "benchfanout: -redis and -mongo (or AGENTCHAT_TEST_REDIS_URL and AGENTCHAT_TEST_MONGODB_URI) are needed; make bench-fanout starts them")
		return 2
	}
	c.Out = os.Stdout
	if *logs != "" {
		f, err := os.Create(*logs)
		if err != nil {
			fmt.Fprintln(os.Stderr, "benchfanout:", err)
			return 1
		}
		defer f.Close()
		c.LogWriter = f
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	res, err := fanbench.Run(ctx, c)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchfanout:", err)
		return 1
	}
	fmt.Println(res.Line())
	return 0
}
