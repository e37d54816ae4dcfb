// Package platform starts the whole of agentchat on one machine: the local
// broker with the real Trigger files, every function as its own func-go
// process (built through func's scaffold), and connector processes. The dev
// runner (cmd/agentchat) and the end-to-end tests use it, so what a
// developer runs is what the tests exercise.
//
// Backing services (Redis, MongoDB, S3) are given, not started here: the
// dev runner gets them from internal/backing, the tests from the test
// command.
package platform

import (
	"cmp"
	"context"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/agentchat/agentchat/brokers"
	"github.com/agentchat/agentchat/brokers/local"
	"github.com/agentchat/agentchat/connector"
	"github.com/agentchat/agentchat/internal/funcrunner"
	"github.com/agentchat/agentchat/sdk/tracing"
	"github.com/agentchat/agentchat/sdk/tracing/otlp"
	"github.com/agentchat/agentchat/triggers"
)

// Config describes one platform on this machine.
type Config struct {
	// RepoRoot holds functions/, sdk/ and cmd/connector. Default: found by
	// walking up from the working directory to the root go.mod.
	RepoRoot string

	RedisURL    string
	RedisPrefix string // default "agentchat:"
	MongoURI    string
	Database    string // MONGODB_DATABASE; default "agentchat"
	S3          S3     // zero Endpoint: media is not started

	// Connectors is how many connector processes to run (default 1).
	Connectors int
	// Functions limits which function folders run (by func name); nil
	// means every folder under functions/.
	Functions []string
	// Env is added to every process's environment (e.g. LOG_LEVEL).
	Env map[string]string
	// ConnectorEnv is added to the connectors' environment only.
	ConnectorEnv map[string]string
	// EnvFor is added to one function's environment, by func name: what
	// no other process should hold, e.g. an agent runtime's AGENT_KEYS.
	EnvFor map[string]map[string]string
	// BrokerAddr is where the broker listens; "" picks a free port.
	BrokerAddr string
	// ConnectorAddrs fixes the connectors' addresses (by index); missing
	// ones pick a free port.
	ConnectorAddrs []string
	// AccountsAddr fixes the accounts function's address; "" picks one.
	AccountsAddr string
	// AllowedOrigins are the browser origins the connectors (WebSocket
	// Origin check) and accounts (CORS) allow: ALLOWED_ORIGINS for both.
	// Empty: the web client's own origins when every connector's address
	// is fixed (see AllowedOrigins), else any origin ("*": tests, whose
	// ports are picked at start and which open pages on any of them).
	AllowedOrigins []string
	// Web serves the web client from the connectors, when set.
	WebDir string
	// VAPIDPrivateKey is the Web Push application server key (base64url
	// of a P-256 scalar) the push function signs with; accounts serves its
	// public key. "": a new key for this platform's lifetime (browsers'
	// subscriptions then last as long as it runs).
	VAPIDPrivateKey string

	LogWriter io.Writer    // every process's prefixed output; nil: stderr
	Logger    *slog.Logger // the platform's own log and the broker's
}

// S3 is an S3 endpoint and its credentials.
type S3 struct {
	Endpoint, AccessKey, SecretKey, Bucket string
	// PublicEndpoint is the address browsers use for presigned URLs.
	PublicEndpoint string
}

// Platform is a running agentchat.
type Platform struct {
	cfg        Config
	log        *slog.Logger
	broker     *local.Broker
	brokerSrv  *http.Server
	brokerURL  string
	signingKey string
	// vapidPrivate and vapidPublic are the Web Push key pair (base64url):
	// the private key for push only, the public key for every function.
	vapidPrivate, vapidPublic string
	// tracerProvider exports the broker's spans; nil: tracing is off.
	tracerProvider *sdktrace.TracerProvider

	mu         sync.Mutex
	functions  map[string]*funcrunner.Process // by func name
	connectors []*funcrunner.Process

	closeOnce sync.Once
	closeErr  error
}

// Start builds and starts everything, returning when all of it is ready.
// On error whatever was started is stopped again.
func Start(ctx context.Context, cfg Config) (_ *Platform, err error) {
	if cfg.RepoRoot == "" {
		if cfg.RepoRoot, err = RepoRoot(); err != nil {
			return nil, err
		}
	}
	if cfg.RedisPrefix == "" {
		cfg.RedisPrefix = "agentchat:"
	}
	if cfg.Database == "" {
		cfg.Database = "agentchat"
	}
	if cfg.Connectors == 0 {
		cfg.Connectors = 1
	}
	if cfg.LogWriter == nil {
		cfg.LogWriter = os.Stderr
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	p := &Platform{cfg: cfg, log: cfg.Logger, functions: map[string]*funcrunner.Process{}}
	defer func() {
		if err != nil {
			p.Close(context.Background())
		}
	}()
	if p.signingKey, err = newSigningKey(); err != nil {
		return nil, err
	}
	if p.vapidPrivate, p.vapidPublic, err = vapidKeys(cfg.VAPIDPrivateKey); err != nil {
		return nil, err
	}
	if err := p.startBroker(); err != nil {
		return nil, err
	}
	if err := p.startFunctions(ctx); err != nil {
		return nil, err
	}
	for i := range cfg.Connectors {
		if err := p.startConnector(ctx, i); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// BrokerURL is the broker's ingress (what K_SINK points at).
func (p *Platform) BrokerURL() string { return p.brokerURL }

// AccountsURL is the accounts function's base URL.
func (p *Platform) AccountsURL() string { return p.Function("accounts").URL() }

// ConnectorURLs are the connectors' WebSocket URLs, in start order.
func (p *Platform) ConnectorURLs() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	urls := make([]string, len(p.connectors))
	for i, c := range p.connectors {
		urls[i] = "ws" + strings.TrimPrefix(c.URL(), "http") + connector.WebSocketPath
	}
	return urls
}

// Connector is the i-th connector process (to kill or restart in tests).
func (p *Platform) Connector(i int) *funcrunner.Process {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.connectors[i]
}

// Function is the running process of the function named name, or nil.
func (p *Platform) Function(name string) *funcrunner.Process {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.functions[name]
}

// SetSubscriber points the broker's deliveries for the Service name (a
// Trigger's subscriber, or the dead-letter sink) at url: how a test stands
// in for a function that it did not start.
func (p *Platform) SetSubscriber(name, url string) { p.broker.SetSubscriber(name, url) }

// FunctionEnv is the environment every function gets; tests use it to
// start extra instances (e.g. several persist processes).
func (p *Platform) FunctionEnv() map[string]string {
	env := otelEnv()
	for k, v := range map[string]string{
		"MONGODB_URI":           p.cfg.MongoURI,
		"MONGODB_DATABASE":      p.cfg.Database,
		"REDIS_URL":             p.cfg.RedisURL,
		"REDIS_PREFIX":          p.cfg.RedisPrefix,
		"K_SINK":                p.brokerURL,
		"ACCOUNTS_SIGNING_KEYS": p.signingKey,
		"ALLOWED_ORIGINS":       strings.Join(p.AllowedOrigins(), ","),
		"VAPID_PUBLIC_KEY":      p.vapidPublic,
	} {
		env[k] = v
	}
	if s := p.cfg.S3; s.Endpoint != "" {
		env["S3_ENDPOINT"] = s.Endpoint
		env["S3_ACCESS_KEY"] = s.AccessKey
		env["S3_SECRET_KEY"] = s.SecretKey
		if s.Bucket != "" {
			env["S3_BUCKET"] = s.Bucket
		}
		if s.PublicEndpoint != "" {
			env["S3_PUBLIC_ENDPOINT"] = s.PublicEndpoint
		}
	}
	for k, v := range p.cfg.Env {
		env[k] = v
	}
	return env
}

// AllowedOrigins is what ALLOWED_ORIGINS is set to for the connectors and
// accounts: Config.AllowedOrigins when given; else, when every connector's
// address is fixed, the origins the connectors serve the web client from
// (http://host:port of each; for a loopback or unspecified host both
// http://127.0.0.1:port and http://localhost:port); else "*".
func (p *Platform) AllowedOrigins() []string {
	if len(p.cfg.AllowedOrigins) > 0 {
		return p.cfg.AllowedOrigins
	}
	if len(p.cfg.ConnectorAddrs) < max(1, p.cfg.Connectors) {
		return []string{"*"}
	}
	var out []string
	for _, addr := range p.cfg.ConnectorAddrs[:max(1, p.cfg.Connectors)] {
		for _, o := range webOrigins(addr) {
			if !slices.Contains(out, o) {
				out = append(out, o)
			}
		}
	}
	return out
}

// webOrigins are the origins a browser may load the web client from when
// a connector listens on addr.
func webOrigins(addr string) []string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil
	}
	switch host {
	case "", "0.0.0.0", "::", "127.0.0.1", "localhost", "::1":
		return []string{"http://127.0.0.1:" + port, "http://localhost:" + port}
	}
	return []string{"http://" + net.JoinHostPort(host, port)}
}

// DrainTimeout bounds how long Close lets the broker finish the
// deliveries in flight once the connectors have stopped.
const DrainTimeout = 20 * time.Second

// Close stops the platform in the order that loses nothing: the
// connectors first (they drain their clients, and nothing new comes in),
// then the broker, which delivers everything in flight — retries, replies
// and what the functions post while finishing — within DrainTimeout, then
// the functions, each of which must exit within its grace period of
// SIGTERM. The error names every process that had to be killed and any
// delivery left unfinished; everything is stopped either way. Calls after
// the first return its result.
func (p *Platform) Close(ctx context.Context) error {
	p.closeOnce.Do(func() { p.closeErr = p.close(ctx) })
	return p.closeErr
}

func (p *Platform) close(ctx context.Context) error {
	p.mu.Lock()
	conns, fns := p.connectors, p.functions
	p.mu.Unlock()
	var (
		mu   sync.Mutex
		errs []error
	)
	stopAll := func(procs []*funcrunner.Process) {
		var wg sync.WaitGroup
		for _, proc := range procs {
			wg.Go(func() {
				if err := proc.Stop(ctx); err != nil {
					p.log.Warn("platform: stop", "process", proc.Name(), "err", err)
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
	}
	stopAll(conns)
	if p.broker != nil {
		dctx, cancel := context.WithTimeout(ctx, DrainTimeout)
		if err := p.broker.Drain(dctx); err != nil {
			p.log.Warn("platform: broker drain", "err", err)
		}
		cancel()
		// Close finds nothing left after a drain that finished; after one
		// that gave up it counts what was lost.
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		errs = append(errs, p.broker.Close(cctx))
		cancel()
	}
	if p.brokerSrv != nil {
		errs = append(errs, p.brokerSrv.Close())
	}
	if p.tracerProvider != nil { // the broker's last spans
		_ = p.tracerProvider.Shutdown(ctx)
	}
	procs := make([]*funcrunner.Process, 0, len(fns))
	for _, f := range fns {
		procs = append(procs, f)
	}
	stopAll(procs)
	return errors.Join(errs...)
}

func (p *Platform) startBroker() error {
	b, err := brokers.LoadBroker(brokers.Dev)
	if err != nil {
		return fmt.Errorf("platform: broker manifest: %w", err)
	}
	ts, err := triggers.Load()
	if err != nil {
		return fmt.Errorf("platform: trigger manifests: %w", err)
	}
	// As many deliveries at once per Trigger as one replica of a function
	// is sized to take on the cluster (func.yaml: scale target 50
	// concurrent requests; Knative's brokers set no lower bound of their
	// own). Handlers wait on MongoDB and Redis more than they compute: with
	// 8, persist's deliveries were the queue and the closed loop of `make
	// bench-pipeline` left a third of the CPU idle (docs/performance.md).
	// The broker runs in this process: its tracing comes from the same
	// OTEL_* variables as every other process's (the platform's Env over
	// this process's environment), as service "broker".
	tp, err := otlp.New(func(k string) string {
		if v, ok := p.cfg.Env[k]; ok {
			return v
		}
		if k == "OTEL_SERVICE_NAME" {
			return "broker"
		}
		return os.Getenv(k)
	}, "broker")
	if err != nil {
		return fmt.Errorf("platform: broker: %w", err)
	}
	var tracer trace.Tracer
	if tp != nil {
		p.tracerProvider, tracer = tp, tp.Tracer(tracing.Scope)
	}
	p.broker, err = local.New(local.Config{Broker: b, Triggers: ts, Workers: 50, QueueSize: 5000,
		Logger: p.log.With("component", "broker"), Tracer: tracer})
	if err != nil {
		return fmt.Errorf("platform: broker: %w", err)
	}
	addr := p.cfg.BrokerAddr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("platform: broker listen: %w", err)
	}
	p.brokerURL = fmt.Sprintf("http://%s/%s/%s", ln.Addr(), b.Namespace, b.Name)
	p.brokerSrv = &http.Server{Handler: p.broker.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go p.brokerSrv.Serve(ln)
	p.log.Info("platform: broker ready", "url", p.brokerURL, "triggers", len(ts))
	return nil
}

// startFunctions builds every function folder (one at a time: builds use
// both cores), then starts them all and registers them with the broker.
func (p *Platform) startFunctions(ctx context.Context) error {
	dirs, err := filepath.Glob(filepath.Join(p.cfg.RepoRoot, "functions", "*", "func.yaml"))
	if err != nil {
		return err
	}
	sort.Strings(dirs)
	want := map[string]bool{}
	for _, n := range p.cfg.Functions {
		want[n] = true
	}
	for _, yml := range dirs {
		proj, err := funcrunner.Inspect(filepath.Dir(yml))
		if err != nil {
			return fmt.Errorf("platform: %w", err)
		}
		if len(want) > 0 && !want[proj.Name] {
			continue
		}
		if proj.Name == "media" && p.cfg.S3.Endpoint == "" {
			p.log.Warn("platform: no S3 configured: media is not started")
			continue
		}
		proc, err := p.StartFunction(ctx, proj.Dir, proj.Name, p.cfg.EnvFor[proj.Name], p.addrFor(proj.Name))
		if err != nil {
			return err
		}
		p.mu.Lock()
		p.functions[proj.Name] = proc
		p.mu.Unlock()
		p.broker.SetSubscriber(proj.Name, proc.URL())
	}
	return nil
}

func (p *Platform) addrFor(name string) string {
	if name == "accounts" {
		return p.cfg.AccountsAddr
	}
	return ""
}

// StartFunction builds and starts one more process of the function in dir
// with the platform's environment plus extra. It is not registered with
// the broker: tests use it to run extra instances side by side.
func (p *Platform) StartFunction(ctx context.Context, dir, name string, extra map[string]string, addr string) (*funcrunner.Process, error) {
	bin, err := funcrunner.Build(ctx, funcrunner.Options{
		FunctionDir: dir, SDKDir: filepath.Join(p.cfg.RepoRoot, "sdk"), Logger: p.log,
	})
	if err != nil {
		return nil, fmt.Errorf("platform: build %s: %w", name, err)
	}
	env := p.FunctionEnv()
	env["OTEL_SERVICE_NAME"] = name // each process its own service in a trace
	if name == "push" {
		env["VAPID_PRIVATE_KEY"] = p.vapidPrivate // no other process holds it
	}
	for k, v := range extra {
		env[k] = v
	}
	proc, err := funcrunner.Start(ctx, funcrunner.StartOptions{
		Binary: bin, Name: name, Env: env, Addr: addr, LogWriter: p.cfg.LogWriter, StopGrace: 5 * time.Second,
	})
	if err != nil {
		return nil, fmt.Errorf("platform: start %s: %w", name, err)
	}
	p.log.Info("platform: function ready", "name", name, "url", proc.URL())
	return proc, nil
}

func (p *Platform) startConnector(ctx context.Context, i int) error {
	bin, err := p.connectorBinary(ctx)
	if err != nil {
		return err
	}
	env := otelEnv()
	for k, v := range map[string]string{
		"CONNECTOR_ID":    fmt.Sprintf("connector-%d", i),
		"K_SINK":          p.brokerURL,
		"REDIS_URL":       p.cfg.RedisURL,
		"REDIS_PREFIX":    p.cfg.RedisPrefix,
		"JWKS_URL":        p.AccountsURL() + "/.well-known/jwks.json",
		"ALLOWED_ORIGINS": strings.Join(p.AllowedOrigins(), ","),
		"DRAIN_TIMEOUT":   "10s",
	} {
		env[k] = v
	}
	if p.cfg.WebDir != "" {
		env["WEB_DIR"] = p.cfg.WebDir
		env["WEB_ACCOUNTS_URL"] = p.AccountsURL()
		if s := p.cfg.S3; s.Endpoint != "" {
			// Where presigned URLs point (media signs them for the public
			// endpoint): the page's policy must let it connect there. MinIO
			// answers CORS for any origin by default, so nothing more is
			// needed for the browser's PUTs and GETs.
			env["WEB_MEDIA_URL"] = "http://" + cmp.Or(s.PublicEndpoint, s.Endpoint)
		}
	}
	for k, v := range p.cfg.Env {
		env[k] = v
	}
	env["OTEL_SERVICE_NAME"] = "connector"
	for k, v := range p.cfg.ConnectorEnv {
		env[k] = v
	}
	addr := ""
	if i < len(p.cfg.ConnectorAddrs) {
		addr = p.cfg.ConnectorAddrs[i]
	}
	proc, err := funcrunner.Start(ctx, funcrunner.StartOptions{
		Binary: bin, Name: env["CONNECTOR_ID"], Env: env, Addr: addr, ReadyPath: "/readyz",
		LogWriter: p.cfg.LogWriter, StopGrace: 15 * time.Second,
	})
	if err != nil {
		return fmt.Errorf("platform: start connector %d: %w", i, err)
	}
	p.mu.Lock()
	p.connectors = append(p.connectors, proc)
	p.mu.Unlock()
	p.log.Info("platform: connector ready", "id", env["CONNECTOR_ID"], "url", proc.URL())
	return nil
}

var buildConnectorOnce sync.Mutex

// connectorBinary builds cmd/connector (the Go build cache makes a rebuild
// of unchanged sources cheap).
func (p *Platform) connectorBinary(ctx context.Context) (string, error) {
	buildConnectorOnce.Lock()
	defer buildConnectorOnce.Unlock()
	cache, err := funcrunner.DefaultCacheDir()
	if err != nil {
		return "", err
	}
	// One binary per checkout: worktrees of one machine share the cache,
	// and a connector built from another checkout's sources must not
	// replace this one between its build and its start.
	sum := sha256.Sum256([]byte(p.cfg.RepoRoot))
	out := filepath.Join(cache, "..", "bin", "connector-"+hex.EncodeToString(sum[:6]))
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./cmd/connector")
	cmd.Dir = p.cfg.RepoRoot
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("platform: build connector: %v\n%s", err, b)
	}
	return filepath.Clean(out), nil
}

// newSigningKey makes the accounts token key for this platform's lifetime,
// so a restarted accounts process keeps issuing tokens the connectors trust.
func newSigningKey() (string, error) {
	seed := make([]byte, ed25519.SeedSize)
	if _, err := rand.Read(seed); err != nil {
		return "", err
	}
	return "local-" + time.Now().UTC().Format("20060102") + ":" + base64.StdEncoding.EncodeToString(seed), nil
}

// VAPIDPublicKey is the Web Push application server key clients
// subscribe with (base64url of the P-256 point): what accounts serves.
func (p *Platform) VAPIDPublicKey() string { return p.vapidPublic }

// vapidKeys parses private (base64url of a P-256 scalar), or makes a new
// key when it is "", and returns both halves in base64url.
func vapidKeys(private string) (priv, pub string, _ error) {
	var k *ecdh.PrivateKey
	if private == "" {
		var err error
		if k, err = ecdh.P256().GenerateKey(rand.Reader); err != nil {
			return "", "", err
		}
	} else {
		raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(private, "="))
		if err == nil {
			k, err = ecdh.P256().NewPrivateKey(raw)
		}
		if err != nil {
			return "", "", errors.New("platform: VAPID private key: not base64url of a P-256 private key")
		}
	}
	return base64.RawURLEncoding.EncodeToString(k.Bytes()), base64.RawURLEncoding.EncodeToString(k.PublicKey().Bytes()), nil
}

// RepoRoot finds the repository root (the directory whose go.mod names the
// root module) from the working directory upwards.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.HasPrefix(string(b), "module github.com/agentchat/agentchat\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("platform: repository root not found above the working directory")
		}
		dir = parent
	}
}

// SigningKey is the accounts token key (kid and private key), for tests
// that need to mint tokens accounts would not issue (expired ones).
func (p *Platform) SigningKey() (kid string, key ed25519.PrivateKey) {
	kid, enc, _ := strings.Cut(p.signingKey, ":")
	seed, _ := base64.StdEncoding.DecodeString(enc)
	return kid, ed25519.NewKeyFromSeed(seed)
}

// otelEnv is the OTEL_* variables of this process's environment, which
// every process the platform starts inherits (funcrunner passes only a
// few variables on): tracing is turned on for the whole platform by
// setting them where it runs (docs/operations.md). Config.Env wins over
// them; OTEL_SERVICE_NAME is set per process.
func otelEnv() map[string]string {
	env := map[string]string{}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, "OTEL_") {
			env[k] = v
		}
	}
	return env
}
