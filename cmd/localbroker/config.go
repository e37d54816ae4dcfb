package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/kelseyhightower/envconfig"

	"github.com/agentchat/agentchat/brokers"
	"github.com/agentchat/agentchat/brokers/local"
)

// config is read from LOCALBROKER_* variables, then overridden by flags.
type config struct {
	Listen      string         `default:"127.0.0.1:8080"`
	Broker      string         `default:"dev"`
	Subscribers subscriberFlag // name=url,name=url
	QueueSize   int            `split_words:"true" default:"1000"`
	Workers     int            `default:"4"`
	Drain       time.Duration  `default:"10s"`
	Admin       bool
	LogLevel    slog.Level `split_words:"true" default:"info"`
}

// subscriberFlag collects repeated -subscriber name=url flags.
type subscriberFlag map[string]string

func (s subscriberFlag) String() string {
	var parts []string
	for k, v := range s {
		parts = append(parts, k+"="+v)
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

func (s subscriberFlag) Set(v string) error {
	name, u, ok := strings.Cut(v, "=")
	if !ok || name == "" {
		return fmt.Errorf("want name=url, got %q", v)
	}
	if _, err := url.ParseRequestURI(u); err != nil {
		return fmt.Errorf("subscriber %s: %w", name, err)
	}
	s[name] = u
	return nil
}

// Decode reads LOCALBROKER_SUBSCRIBERS (envconfig's own map syntax,
// key:value, cannot hold a URL).
func (s *subscriberFlag) Decode(v string) error {
	*s = subscriberFlag{}
	for _, pair := range strings.Split(v, ",") {
		if pair = strings.TrimSpace(pair); pair != "" {
			if err := s.Set(pair); err != nil {
				return err
			}
		}
	}
	return nil
}

func loadConfig(args []string, stderr io.Writer) (config, error) {
	var c config
	if err := envconfig.Process("localbroker", &c); err != nil {
		return c, fmt.Errorf("localbroker: environment: %w", err)
	}
	subs := subscriberFlag{}
	for k, v := range c.Subscribers {
		subs[k] = v
	}
	fs := flag.NewFlagSet("localbroker", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.Listen, "listen", c.Listen, "address to listen on (port 0: any free port; the URL is printed on stdout)")
	fs.StringVar(&c.Broker, "broker", c.Broker, fmt.Sprintf("embedded Broker variant whose delivery policy applies %v", brokers.Variants()))
	fs.Var(subs, "subscriber", "Service URL as name=url (repeatable), e.g. persist=http://127.0.0.1:8101")
	fs.IntVar(&c.QueueSize, "queue-size", c.QueueSize, "events in flight per Trigger before the ingress answers 429")
	fs.IntVar(&c.Workers, "workers", c.Workers, "concurrent deliveries per Trigger")
	fs.DurationVar(&c.Drain, "drain", c.Drain, "how long shutdown may take to deliver what was accepted")
	fs.BoolVar(&c.Admin, "admin", c.Admin, "serve PUT /admin/subscribers/{name} (body: URL) and GET /admin/subscribers")
	fs.TextVar(&c.LogLevel, "log-level", c.LogLevel, "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("localbroker: unexpected arguments %v", fs.Args())
	}
	c.Subscribers = subs
	return c, nil
}

func (c config) brokerConfig(log *slog.Logger) (local.Config, error) {
	br, err := brokers.LoadBroker(c.Broker)
	if err != nil {
		return local.Config{}, err
	}
	ts, err := loadTriggers()
	if err != nil {
		return local.Config{}, err
	}
	return local.Config{
		Broker: br, Triggers: ts, Subscribers: c.Subscribers,
		QueueSize: c.QueueSize, Workers: c.Workers, Logger: log,
	}, nil
}
