// Command agentchat runs the whole platform on one machine: Redis, MongoDB
// and S3 as configured (embedded ones when no URLs are given), the local
// broker with the real Trigger files, every function as its own func-go
// process, and a connector. It creates demo users and prints where to
// connect. `make run` runs it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/kelseyhightower/envconfig"

	"github.com/agentchat/agentchat/internal/backing"
	"github.com/agentchat/agentchat/internal/platform"
	"github.com/agentchat/agentchat/sdk/client"
)

func main() {
	connectors := flag.Int("connectors", 1, "connector processes to run")
	connAddr := flag.String("listen", "127.0.0.1:8080", "address of the first connector (the next ones use the following ports)")
	accountsAddr := flag.String("accounts", "127.0.0.1:8081", "address of the accounts function")
	brokerAddr := flag.String("broker", "127.0.0.1:8082", "address of the local broker")
	demo := flag.Bool("demo", true, "create the demo users (demo, demo2) and a conversation between them")
	web := flag.String("web", "web", "folder of the web client, served by the connectors (\"\": none)")
	jaeger := flag.Bool("jaeger", os.Getenv("TRACING") == "jaeger", "start Jaeger (make jaeger builds it) and trace every process into it (also TRACING=jaeger)")
	vapidKeys := flag.Bool("vapid-keys", false, "print a new Web Push (VAPID) key pair for a cluster's configuration and exit")
	flag.Parse()
	if *vapidKeys {
		if err := printVAPIDKeys(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}

	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if err := run(log, *connectors, *connAddr, *accountsAddr, *brokerAddr, *web, *demo, *jaeger); err != nil {
		log.Error("agentchat: exit", "err", err)
		os.Exit(1)
	}
}

func run(log *slog.Logger, connectors int, connAddr, accountsAddr, brokerAddr, web string, demo, jaeger bool) error {
	var bcfg backing.Config
	if err := envconfig.Process("", &bcfg); err != nil {
		return fmt.Errorf("agentchat: config: %w", err)
	}
	bcfg.Logger = log
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	svc, err := backing.Start(ctx, bcfg)
	if err != nil {
		return err
	}
	defer svc.Close()
	var tracing string // the banner's line, when -jaeger
	if jaeger {
		j, stopJaeger, err := startJaeger(ctx)
		if err != nil {
			return err
		}
		defer stopJaeger()
		// The platform passes the OTEL_* variables of this process to
		// every process it starts (and the broker in here reads them).
		os.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", j.OTLP)
		os.Setenv("OTEL_TRACES_EXPORTER", "otlp")
		// A Jaeger built from its Go module has no UI assets (they come
		// from jaeger-ui's own npm build): its page is a placeholder, and
		// the query API is what works (docs/operations.md, Tracing).
		tracing = "  jaeger UI:             " + j.UI + " (a placeholder page in a build from the Go module)\n" +
			"  traces (JSON):         " + j.UI + "/api/traces?service=connector\n"
	}

	addrs := []string{connAddr}
	host, port, _ := strings.Cut(connAddr, ":")
	for i := 1; i < connectors; i++ {
		var p int
		fmt.Sscan(port, &p)
		addrs = append(addrs, fmt.Sprintf("%s:%d", host, p+10+i))
	}
	var agents []demoAgent
	if demo {
		dir := bcfg.DataDir
		if dir == "" {
			if dir, err = os.UserCacheDir(); err == nil {
				dir = filepath.Join(dir, "agentchat")
			}
		}
		if agents, err = demoAgents(dir, os.Getenv("OPENAI_BASE_URL") != ""); err != nil {
			return err
		}
	}
	if web != "" {
		if web, err = filepath.Abs(web); err == nil {
			_, err = os.Stat(filepath.Join(web, "index.html"))
		}
		if err != nil {
			log.Warn("agentchat: no web client (run from the repository's root, or pass -web)", "err", err)
			web = ""
		}
	}
	// Browsers may use the web client from the connectors' own origins
	// only, unless ALLOWED_ORIGINS (comma-separated, "*" for any) says
	// otherwise, e.g. for a LAN address or a proxy in front.
	var origins []string
	for o := range strings.SplitSeq(os.Getenv("ALLOWED_ORIGINS"), ",") {
		if o = strings.TrimSpace(o); o != "" {
			origins = append(origins, o)
		}
	}
	// The agent runtimes act for agents whose keys only -demo makes: without
	// them there is nothing for them to run (they refuse to start keyless).
	var functions []string
	if !demo {
		functions = []string{"accounts", "persist", "route", "deadletter", "media", "push"}
	}
	startCtx, cancel := context.WithTimeout(ctx, 15*time.Minute)
	defer cancel()
	p, err := platform.Start(startCtx, platform.Config{
		Functions: functions,
		RedisURL:  svc.RedisURL, MongoURI: svc.MongoURI,
		S3:         platform.S3{Endpoint: svc.S3.Endpoint, AccessKey: svc.S3.AccessKey, SecretKey: svc.S3.SecretKey},
		Connectors: connectors, ConnectorAddrs: addrs, AccountsAddr: accountsAddr, BrokerAddr: brokerAddr, WebDir: web,
		AllowedOrigins: origins,
		// Web Push: a key of the run's own unless VAPID_PRIVATE_KEY keeps one
		// across runs (subscriptions made with another key are refused by
		// the browsers' push services).
		VAPIDPrivateKey: os.Getenv("VAPID_PRIVATE_KEY"),
		// REGISTER_RATE: accounts' sign-up and new-device limits per address
		// (every local client is 127.0.0.1: raise it for a load run).
		Env:    map[string]string{"LOG_LEVEL": os.Getenv("LOG_LEVEL"), "REGISTER_RATE": os.Getenv("REGISTER_RATE")},
		EnvFor: agentEnv(agents), Logger: log,
	})
	if err != nil {
		return err
	}
	defer func() {
		// Connectors drain (up to 15 s), then the broker (platform.DrainTimeout),
		// then functions (5 s each, in parallel).
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := p.Close(ctx); err != nil {
			log.Warn("agentchat: stop", "err", err)
		}
	}()
	if demo {
		if err := createDemo(ctx, p.AccountsURL()); err != nil {
			log.Warn("agentchat: demo users", "err", err)
		} else if err := registerDemoAgents(ctx, p.AccountsURL(), agents); err != nil {
			log.Warn("agentchat: demo agents", "err", err)
		}
	}
	fmt.Printf(`
agentchat is running.
  web client:            %s
  allowed origins:       %s (browsers elsewhere are refused; ALLOWED_ORIGINS=a,b to change)
  connector (WebSocket): %s
  accounts (HTTP):       %s
  broker ingress:        %s
  backing services:      redis %s, mongodb %s, s3 %q (embedded: %s)
%s`, webURL(p.ConnectorURLs()[0], web), strings.Join(p.AllowedOrigins(), ", "), strings.Join(p.ConnectorURLs(), ", "), p.AccountsURL(), p.BrokerURL(), svc.RedisURL, svc.MongoURI, svc.S3.Endpoint,
		strings.Join(svc.Embedded, ", "), tracing)
	if demo {
		fmt.Printf(`  demo users:            demo / %s and demo2 / %s (log in as either in the web client)
  try it from two terminals:
    go run ./cmd/chat -accounts %s -connector %s -user demo -password %s -with demo2
    go run ./cmd/chat -accounts %s -connector %s -user demo2 -password %s -with demo
  demo agents:           %s (docs/agents.md)
    go run ./cmd/chat -accounts %s -connector %s -user demo -password %s -agent calc
`, demoPassword, demoPassword,
			p.AccountsURL(), p.ConnectorURLs()[0], demoPassword, p.AccountsURL(), p.ConnectorURLs()[0], demoPassword,
			agentNames(agents), p.AccountsURL(), p.ConnectorURLs()[0], demoPassword)
	} else {
		fmt.Println("  no demo users or agents (-demo=false): sign up in the web client or with go run ./cmd/chat -signup")
	}
	fmt.Println("Ctrl-C stops everything.")
	<-ctx.Done()
	log.Info("agentchat: stopping")
	return nil
}

const demoPassword = "demo-password"

// startJaeger runs the cached Jaeger, its config and log in a temporary
// folder; stop stops it and removes the folder.
func startJaeger(ctx context.Context) (j *backing.Jaeger, stop func(), err error) {
	bin := backing.JaegerBinary()
	if bin == "" {
		return nil, nil, fmt.Errorf("agentchat: -jaeger: no jaeger %s in the cache: run make jaeger (once)", backing.JaegerVersion)
	}
	dir, err := os.MkdirTemp("", "agentchat-jaeger-")
	if err != nil {
		return nil, nil, err
	}
	if j, err = backing.StartJaeger(ctx, bin, dir); err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	return j, func() { j.Close(); os.RemoveAll(dir) }, nil
}

// webURL is the page a connector serves the web client at.
func webURL(connectorURL, web string) string {
	if web == "" {
		return "none (-web)"
	}
	u := strings.Replace(strings.TrimSuffix(connectorURL, "/ws"), "ws://", "http://", 1)
	return u + "/"
}

// createDemo signs up the demo users (again is fine) so a newcomer can log
// in at once.
func createDemo(ctx context.Context, accountsURL string) error {
	acc := client.NewAccounts(accountsURL, nil)
	for _, name := range []string{"demo", "demo2"} {
		if _, err := acc.Signup(ctx, name, demoPassword, strings.ToUpper(name[:1])+name[1:]); err != nil && !client.IsStatus(err, 409) {
			return errors.Join(fmt.Errorf("signup %s", name), err)
		}
	}
	return nil
}

// agentNames says which demo agents answer, and with what.
func agentNames(agents []demoAgent) string {
	if len(agents) == 0 {
		return "none (-demo=false)"
	}
	var out []string
	for _, a := range agents {
		switch a.Kind {
		case "model":
			out = append(out, a.ID+" (model at "+os.Getenv("OPENAI_BASE_URL")+")")
		default:
			out = append(out, a.ID+" (calculator: try 2+3*4)")
		}
	}
	if len(agents) == 1 {
		out = append(out, "set OPENAI_BASE_URL (and OPENAI_API_KEY, OPENAI_MODEL) for a model agent, assistant")
	}
	return strings.Join(out, "; ")
}
