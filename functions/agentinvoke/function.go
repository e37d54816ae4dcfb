// Package function is agent-invoke, the runtime of agentchat's built-in
// model agents. route posts io.agentchat.agent.invoke for every stored
// message an agent member should answer, with the message's audience
// (every member device and its public key); the agent-invoke Trigger
// brings those of agents of kind "model" here. For each, agent-invoke
// opens the message with the agent's private key, builds the context from
// the conversation's recent history that the agent can read, calls the
// agent's OpenAI-compatible endpoint with streaming, sends "thinking" and
// encrypted partial tokens to the conversation, and sends the reply —
// sealed for the invoke's audience — as an ordinary encrypted message
// (through persist and route, so it has a seq, ticks and sync). persist's
// answer to the reply comes back through the agent-invoke-outcome
// Trigger: message.stored closes the call with agent.done;
// message.rejected (the members' devices changed meanwhile) makes it seal
// the reply again for the audience the rejection carries, or report
// agent.error. It reads no collection of accounts' and polls nothing.
//
// Exactly one model call per triggering message: the call is keyed by
// (conversation, seq, agent) in a ledger in MongoDB (ledger.go) where
// every decision is an insert under a unique _id. A model call can outlast
// func-go's 30 s request timeout, so Handle claims the call, starts the
// turn in the background and answers the broker within AGENT_HOLD; a
// sweeper takes over the calls of instances that died (docs/agents.md).
//
// It is an instanced func (knative.dev/func-go/cloudevents): New, Start,
// Stop, Ready, Alive, Handle.
package function

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readpref"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/fn"
	"github.com/agentchat/agentchat/store"
	"github.com/agentchat/agentchat/store/messages"
	"github.com/agentchat/agentchat/store/usage"
)

// errNotStarted makes a Handle that races Start fail with 503, so the
// broker retries it once the function is ready.
var errNotStarted = fn.Unavailable("agent-invoke: not started")

// Function is one agent-invoke instance.
type Function struct {
	deps   atomic.Pointer[deps]
	level  slog.LevelVar
	log    *slog.Logger
	handle fn.Handler
	owner  string // this instance in the ledger's attempts

	mu      sync.Mutex
	running map[string]*worker     // turns this instance runs, by call id
	tools   map[string]*toolWaiter // turns here waiting for a tool result, by the result's ledger _id
	wg      sync.WaitGroup         // those turns and the sweeper
	// warm: a turn of this instance has sent a model request since it
	// started or last woke; lastTurn: when its latest turn ended
	// (lifecycle.go, "waking").
	warm     bool
	lastTurn time.Time

	stats stats
}

// stats counts what tests and operators want to see.
type stats struct {
	turns      atomic.Int64 // turns started here
	requests   atomic.Int64 // model requests sent (refused ones included)
	takeovers  atomic.Int64 // calls taken over from another attempt
	retrievals atomic.Int64 // reads of a stored answer after a takeover
}

// deps is what Start opens. A test builds one around fakes.
type deps struct {
	cfg    config
	ledger ledger
	usage  usage.Store    // tokens spent per turn, and the totals budgets are checked against
	msgs   messages.Store // persist's message log, read only: the history
	model  model
	sink   fn.Sink
	ping   func(context.Context) error // MongoDB answers (nil: nothing to ask)
	slots  chan struct{}               // one per model call in flight (AGENT_MAX_CALLS)
	// mcpLists are the MCP servers' tool lists (AGENT_MCP_TOOLS_TTL).
	mcpLists *mcpLists

	// ctx is the turns' context: cancelled only when Stop runs out of
	// time, so that a request in flight ends as "interrupted".
	ctx      context.Context
	cancel   context.CancelFunc
	stopping chan struct{} // closed when Stop begins
	closeFn  func(context.Context) error
}

// worker is one running turn.
type worker struct {
	done chan struct{}
}

// New is called once by the func runtime.
func New() *Function {
	f := &Function{owner: newOwnerID(), running: map[string]*worker{}, tools: map[string]*toolWaiter{}}
	f.log = fn.NewLogger("agent-invoke", &f.level)
	f.handle = fn.Logged(f.log, fn.Mux{
		events.TypeAgentInvoke:     f.invoked,
		events.TypeMessageStored:   f.heard,
		events.TypeMessageRejected: f.heard,
		events.TypeToolResult:      f.toolResulted,
	}.Handle)
	return f
}

func newOwnerID() string {
	host, _ := os.Hostname()
	b := make([]byte, 4)
	rand.Read(b)
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b))
}

// Start reads the configuration, connects to MongoDB, prepares the model
// client and the broker sink, and starts the sweeper.
func (f *Function) Start(ctx context.Context, m map[string]string) error {
	c, err := configFrom(m)
	if err != nil {
		return err
	}
	f.level.Set(c.LogLevel)
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	client, err := mongo.Connect(options.Client().ApplyURI(c.MongoURI).SetAppName("agentchat-agent-invoke"), store.CountCommands("agent-invoke"))
	if err != nil {
		return fmt.Errorf("agent-invoke: connect mongo: %w", err)
	}
	db := client.Database(c.Database)
	if err := db.RunCommand(ctx, bson.D{{Key: "ping", Value: 1}}).Err(); err != nil {
		_ = client.Disconnect(context.WithoutCancel(ctx))
		return fmt.Errorf("agent-invoke: connect mongo: %w", err)
	}
	led, err := newMongoLedger(ctx, db)
	if err != nil {
		_ = client.Disconnect(context.WithoutCancel(ctx))
		return err
	}
	msgs, err := messages.NewMongoDB(ctx, db)
	if err != nil {
		_ = client.Disconnect(context.WithoutCancel(ctx))
		return err
	}
	used, err := usage.NewMongo(ctx, db)
	if err != nil {
		_ = client.Disconnect(context.WithoutCancel(ctx))
		return fmt.Errorf("agent-invoke: %w", err)
	}
	snk, err := fn.NewSink("agent-invoke", c.Sink)
	if err != nil {
		_ = client.Disconnect(context.WithoutCancel(ctx))
		return err
	}
	ping := func(ctx context.Context) error {
		if err := client.Ping(ctx, readpref.Primary()); err != nil {
			return fmt.Errorf("agent-invoke: ping mongo: %w", err)
		}
		return nil
	}
	f.start(c, led, used, msgs, newOpenAIModel(), snk, ping, client.Disconnect)
	agents := make([]string, 0, len(c.Keys))
	for id := range c.Keys {
		agents = append(agents, id)
	}
	f.logger().Info("agent-invoke: started", "database", c.Database, "agents", agents, "owner", f.owner,
		"lease", c.Lease.String(), "sweep", c.Sweep.String(), "hold", c.Hold.String())
	return nil
}

// start installs deps and starts the sweeper. ping and closeFn may be nil.
func (f *Function) start(c config, l ledger, u usage.Store, msgs messages.Store, m model, s fn.Sink, ping, closeFn func(context.Context) error) {
	ctx, cancel := context.WithCancel(context.Background())
	d := &deps{cfg: c, ledger: l, usage: u, msgs: msgs, model: traced(m), sink: s, ping: ping, slots: make(chan struct{}, c.MaxCalls),
		mcpLists: newMCPLists(c.MCPToolsTTL),
		ctx:      ctx, cancel: cancel, stopping: make(chan struct{}), closeFn: closeFn}
	f.deps.Store(d)
	f.wg.Go(func() { f.sweep(d) })
}

// Stop lets running turns finish while it can: turns waiting for a call
// slot give their call back at once (another instance takes it over and
// calls the model), turns whose request is in flight get until a few
// seconds before ctx ends, then are cancelled and report "interrupted" to
// the conversation (their request may have reached the model, so nobody
// may send it again). func-go gives Stop 30 s.
func (f *Function) Stop(ctx context.Context) error {
	d := f.deps.Load()
	if d == nil {
		return nil
	}
	f.mu.Lock() // spawn checks stopping under it: no turn starts after this
	close(d.stopping)
	f.mu.Unlock()
	done := make(chan struct{})
	go func() { f.wg.Wait(); close(done) }()
	grace := 25 * time.Second
	if dl, ok := ctx.Deadline(); ok {
		grace = time.Until(dl) - 3*time.Second
	}
	select {
	case <-done:
	case <-time.After(max(grace, 0)):
		f.logger().Warn("agent-invoke: stopping with turns in flight: interrupting them")
		d.cancel()
		select {
		case <-done:
		case <-ctx.Done():
		}
	}
	d.cancel()
	f.deps.Store(nil)
	if d.closeFn != nil {
		return d.closeFn(ctx)
	}
	return nil
}

// Ready is true once Start has finished and MongoDB answers.
func (f *Function) Ready(ctx context.Context) (bool, error) {
	d := f.deps.Load()
	if d == nil {
		return false, nil
	}
	if d.ping != nil {
		if err := d.ping(ctx); err != nil {
			return false, err
		}
	}
	return true, nil
}

// Alive is true while the process runs: a lost MongoDB makes the
// function unready, not dead.
func (f *Function) Alive(context.Context) (bool, error) { return true, nil }

func (f *Function) logger() *slog.Logger { return f.log }

// Handle serves one event delivered over HTTP by a Trigger with
// HandleEvent (fn.Serve says why not through func-go's cloudevents
// runtime).
func (f *Function) Handle(w http.ResponseWriter, r *http.Request) { fn.Serve(w, r, f.HandleEvent) }

// HandleEvent answers an invoke, persist's answer to a reply (outcome.go)
// or a tool's result (tools.go); any other type is refused (400).
func (f *Function) HandleEvent(ctx context.Context, e event.Event) (*event.Event, error) {
	return f.handle(ctx, e)
}
