// Package function is calc-agent, agentchat's example of an agent written
// as its own trigger-bound function: a calculator that needs no model. Its
// Trigger (triggers/calc-agent.yaml) filters io.agentchat.agent.invoke on
// its agent id, so it receives only the messages it is asked to answer.
// For each it opens the message with the agent's private key, answers
// (arithmetic, or how many messages / who is here), seals the answer for
// every current member device and posts it to the broker as an ordinary
// io.agentchat.message.sent — persist stores it, route delivers it — then
// io.agentchat.agent.done.
//
// It uses only the SDK (events, e2ee) and reads MongoDB for the key
// directory. Its reply's client message id is "r-<seq>", so a redelivered
// invoke sends the same message again and persist stores it once: no
// ledger is needed when answering costs nothing (agent-invoke has one
// because a model call does). docs/agents.md walks through it.
package function

import (
	"cmp"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readpref"

	"github.com/agentchat/agentchat/sdk/e2ee"
	"github.com/agentchat/agentchat/sdk/events"
)

// errNotStarted makes a Handle that races Start fail with 500 (retried).
var errNotStarted = errors.New("calc-agent: not started")

// Function is one calc-agent instance.
type Function struct {
	deps atomic.Pointer[deps]
	log  atomic.Pointer[slog.Logger]
}

type deps struct {
	keys   map[string]*e2ee.PrivateKey // agent id → its private key (AGENT_KEYS)
	dir    *mongoDirectory
	sink   cloudevents.Client
	client *mongo.Client
}

// New is called once by the func runtime.
func New() *Function {
	f := &Function{}
	f.log.Store(newLogger(slog.LevelInfo))
	return f
}

func newLogger(level slog.Level) *slog.Logger {
	return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level})).With("function", "calc-agent")
}

// Start reads the configuration from func's config map (the environment):
//
//	MONGODB_URI       required: the key directory (read only)
//	MONGODB_DATABASE  default agentchat
//	K_SINK            required: the broker, where replies go
//	AGENT_KEYS        required: "agentId:base64key" entries (comma-separated),
//	                  the agent's X25519 private key (32 bytes, standard
//	                  base64) — from a Secret on a cluster, never from MongoDB
//	LOG_LEVEL         DEBUG, INFO (default), WARN, ERROR
func (f *Function) Start(ctx context.Context, m map[string]string) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cmp.Or(m["LOG_LEVEL"], "INFO"))); err != nil {
		return fmt.Errorf("calc-agent: config: LOG_LEVEL: %w", err)
	}
	f.log.Store(newLogger(level))
	switch {
	case m["MONGODB_URI"] == "":
		return errors.New("calc-agent: config: MONGODB_URI is required")
	case m["K_SINK"] == "":
		return errors.New("calc-agent: config: K_SINK is required")
	}
	keys, err := parseKeys(m["AGENT_KEYS"])
	if err != nil {
		return fmt.Errorf("calc-agent: config: AGENT_KEYS: %w", err)
	}
	sink, err := cloudevents.NewClientHTTP(cloudevents.WithTarget(m["K_SINK"]))
	if err != nil {
		return fmt.Errorf("calc-agent: sink: %w", err)
	}
	client, err := mongo.Connect(options.Client().ApplyURI(m["MONGODB_URI"]).SetAppName("agentchat-calc-agent"))
	if err != nil {
		return fmt.Errorf("calc-agent: connect mongo: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := client.Ping(ctx, readpref.Primary()); err != nil {
		_ = client.Disconnect(context.WithoutCancel(ctx))
		return fmt.Errorf("calc-agent: connect mongo: %w", err)
	}
	db := client.Database(cmp.Or(m["MONGODB_DATABASE"], "agentchat"))
	f.deps.Store(&deps{keys: keys, dir: newMongoDirectory(db), sink: sink, client: client})
	agents := make([]string, 0, len(keys))
	for id := range keys {
		agents = append(agents, id)
	}
	f.log.Load().Info("calc-agent: started", "agents", agents)
	return nil
}

// parseKeys reads "agentId:base64key" entries separated by commas or
// white space.
func parseKeys(s string) (map[string]*e2ee.PrivateKey, error) {
	keys := map[string]*e2ee.PrivateKey{}
	for _, entry := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' }) {
		id, enc, ok := strings.Cut(entry, ":")
		if !ok || !events.ValidID(id) {
			return nil, fmt.Errorf("entry %d: want agentId:base64key", len(keys)+1)
		}
		raw, err := base64.StdEncoding.DecodeString(enc)
		if err != nil {
			return nil, fmt.Errorf("agent %s: key is not standard base64", id)
		}
		if keys[id], err = e2ee.ParsePrivateKey(raw); err != nil {
			return nil, fmt.Errorf("agent %s: %w", id, err)
		}
	}
	if len(keys) == 0 {
		return nil, errors.New("no agent key: the agent cannot read or answer anything")
	}
	return keys, nil
}

// Stop closes the MongoDB client.
func (f *Function) Stop(ctx context.Context) error {
	if d := f.deps.Swap(nil); d != nil {
		return d.client.Disconnect(ctx)
	}
	return nil
}

// Ready is true once Start has finished and MongoDB answers.
func (f *Function) Ready(ctx context.Context) (bool, error) {
	d := f.deps.Load()
	if d == nil {
		return false, nil
	}
	if err := d.client.Ping(ctx, readpref.Primary()); err != nil {
		return false, err
	}
	return true, nil
}

// Alive is true while the process runs.
func (f *Function) Alive(context.Context) (bool, error) { return true, nil }
