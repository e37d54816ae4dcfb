package connector

import (
	"context"
	_ "embed"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/agentchat/agentchat/sdk/events"
)

var (
	//go:embed presence_refresh.lua
	refreshLua    string
	refreshScript = redis.NewScript(refreshLua)
	//go:embed presence_release.lua
	releaseLua    string
	releaseScript = redis.NewScript(releaseLua)
)

// RedisPresence keeps presence keys (events.PresenceKey → connector id) in
// Redis. Claim is a plain SET with a TTL (newest connection wins); Refresh and
// Release are Lua scripts, so each compare-and-act is atomic on the server.
type RedisPresence struct {
	Client      redis.UniversalClient
	Prefix      string
	ConnectorID string
	TTL         time.Duration
}

var _ Presence = (*RedisPresence)(nil)

// NewRedisPresence uses events.PresenceTTLSeconds as the TTL.
func NewRedisPresence(c redis.UniversalClient, prefix, connectorID string) *RedisPresence {
	return &RedisPresence{Client: c, Prefix: prefix, ConnectorID: connectorID, TTL: events.PresenceTTLSeconds * time.Second}
}

func (p *RedisPresence) key(d events.DeviceRef) string {
	return events.PresenceKey(p.Prefix, d.User, d.Device)
}

// Claim sets dev's key to this connector with the TTL.
func (p *RedisPresence) Claim(ctx context.Context, dev events.DeviceRef) error {
	if err := p.Client.Set(ctx, p.key(dev), p.ConnectorID, p.TTL).Err(); err != nil {
		return fmt.Errorf("connector: presence: claim: %w", err)
	}
	return nil
}

// Revoked looks up dev's revocation mark.
func (p *RedisPresence) Revoked(ctx context.Context, dev events.DeviceRef) (bool, error) {
	n, err := p.Client.Exists(ctx, events.RevokedKey(p.Prefix, dev.User, dev.Device)).Result()
	if err != nil {
		return false, fmt.Errorf("connector: presence: revoked: %w", err)
	}
	return n == 1, nil
}

// refreshBatch bounds one pipeline: 19,000 sockets make 38 round trips.
const refreshBatch = 500

// Refresh runs the refresh script for every device, pipelined in batches.
func (p *RedisPresence) Refresh(ctx context.Context, devs []events.DeviceRef) ([]events.DeviceRef, error) {
	var lost []events.DeviceRef
	ttl := strconv.Itoa(int(p.TTL / time.Second))
	for start := 0; start < len(devs); start += refreshBatch {
		batch := devs[start:min(start+refreshBatch, len(devs))]
		results, err := p.refreshPipeline(ctx, batch, ttl)
		if redis.HasErrorPrefix(err, "NOSCRIPT") {
			// The script cache is empty (Redis restarted or flushed): load it once, redo the batch.
			if err = refreshScript.Load(ctx, p.Client).Err(); err == nil {
				results, err = p.refreshPipeline(ctx, batch, ttl)
			}
		}
		if err != nil {
			return lost, fmt.Errorf("connector: presence: refresh: %w", err)
		}
		for i, r := range results {
			if r == 0 {
				lost = append(lost, batch[i])
			}
		}
	}
	return lost, nil
}

func (p *RedisPresence) refreshPipeline(ctx context.Context, batch []events.DeviceRef, ttl string) ([]int64, error) {
	pipe := p.Client.Pipeline()
	cmds := make([]*redis.Cmd, len(batch))
	for i, d := range batch {
		cmds[i] = refreshScript.EvalSha(ctx, pipe, []string{p.key(d)}, p.ConnectorID, ttl)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, err
	}
	out := make([]int64, len(cmds))
	for i, c := range cmds {
		n, err := c.Int64()
		if err != nil {
			return nil, err
		}
		out[i] = n
	}
	return out, nil
}

// Release deletes dev's key if it still names this connector.
func (p *RedisPresence) Release(ctx context.Context, dev events.DeviceRef) error {
	if err := releaseScript.Run(ctx, p.Client, []string{p.key(dev)}, p.ConnectorID).Err(); err != nil {
		return fmt.Errorf("connector: presence: release: %w", err)
	}
	return nil
}
