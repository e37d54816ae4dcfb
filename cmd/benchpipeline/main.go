// Command benchpipeline is make bench-pipeline's measurement (see package
// internal/pipebench): the storage's own insert rate, the platform's
// saturation, storage commands per message and open-loop latency, in one
// run on the Redis and MongoDB that the flags (default: the test command's
// AGENTCHAT_TEST_* services) name. It prints a line per measurement and
// ends with one line:
//
//	pipeline: storage_inserts_per_s=N saturation_msgs_per_s=N ratio=R cmds_per_msg=C p50_ms_at_half=X p99_ms_at_half=Y
//
// make bench-pipeline starts the services (tests/run.sh services) and runs
// it; by hand, with services already running:
//
//	source $WORK/env && go run ./cmd/benchpipeline
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/agentchat/agentchat/internal/pipebench"
)

func main() { os.Exit(run()) }

func run() int {
	var c pipebench.Config
	flag.StringVar(&c.RedisURL, "redis", os.Getenv("AGENTCHAT_TEST_REDIS_URL"), "Redis URL")
	flag.StringVar(&c.MongoURI, "mongo", os.Getenv("AGENTCHAT_TEST_MONGODB_URI"), "MongoDB (FerretDB) URI")
	flag.IntVar(&c.Writers, "writers", 8, "storage: concurrent writers")
	flag.IntVar(&c.Inserts, "inserts", 6000, "storage: documents inserted (measured)")
	flag.IntVar(&c.Clients, "clients", 20, "connected users, each in a direct conversation with the next")
	flag.IntVar(&c.Warmup, "warmup", 400, "messages sent first, not measured")
	flag.IntVar(&c.Saturation, "saturation", 3000, "messages of the closed loop")
	flag.IntVar(&c.Window, "window", 4, "closed loop: messages per client sent but not yet stored")
	flag.IntVar(&c.OpenLoad, "open", 1200, "messages of each open-loop load")
	logs := flag.String("logs", "", "write the platform's output to this file")
	timeout := flag.Duration("timeout", 30*time.Minute, "give up after")
	cpuprofile := flag.String("cpuprofile", "", "write this process's CPU profile (the load clients and the dev runner's broker) to this file")
	flag.Parse()
	if c.RedisURL == "" || c.MongoURI == "" {
		fmt.Fprintln(os.Stderr, "benchpipeline: -redis and -mongo (or AGENTCHAT_TEST_REDIS_URL and AGENTCHAT_TEST_MONGODB_URI) are needed; make bench-pipeline starts them")
		return 2
	}
	c.Out = os.Stdout
	if *logs != "" {
		f, err := os.Create(*logs)
		if err != nil {
			fmt.Fprintln(os.Stderr, "benchpipeline:", err)
			return 1
		}
		defer f.Close()
		c.LogWriter = f
	} else {
		c.LogWriter = io.Discard
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "benchpipeline:", err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	res, err := pipebench.Run(ctx, c)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchpipeline:", err)
		return 1
	}
	fmt.Println(res.Line())
	return 0
}
