package presence

import (
	"context"
	_ "embed"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/agentchat/agentchat/sdk/events"
)

var (
	//go:embed admit.lua
	admitLua    string
	admitScript = redis.NewScript(admitLua)
	//go:embed claim.lua
	claimLua    string
	claimScript = redis.NewScript(claimLua)
	//go:embed refresh.lua
	refreshLua    string
	refreshScript = redis.NewScript(refreshLua)
	//go:embed release.lua
	releaseLua    string
	releaseScript = redis.NewScript(releaseLua)
)

// RefreshBatch is how many sockets one refresh (or release) script call
// covers: one MGET and, for records still their socket's, one EXPIRE each
// (one DEL for them all). 500 keys keep one call around a millisecond of
// Redis's time, so a heartbeat never stalls other clients for long.
const RefreshBatch = 500

// locateBatch is how many keys one MGET of Locate reads (pipelined).
const locateBatch = 1000

// Redis keeps records under Key(prefix, user, device) →
// FormatRecord(connector id, stamp), with TTL. Stamps come from Redis's
// clock (TIME inside the scripts): one clock for every connector. Redis and
// miniredis (the dev runner's) both run the scripts; the suite checks both.
//
// Admit and Claim each touch one device's key (plus, for Admit, its
// revocation mark in the same pipeline). Refresh, Release and Locate read
// many keys in one command (a script over a batch, MGET): on Redis Cluster
// they would need every key in one slot, so run a single Redis (or
// Sentinel).
type Redis struct {
	client redis.UniversalClient
	prefix string
}

var (
	_ Store    = (*Redis)(nil)
	_ Registry = (*redisRegistry)(nil)
)

// NewRedis is the presence of the deployment whose keys start with prefix.
func NewRedis(c redis.UniversalClient, prefix string) *Redis {
	return &Redis{client: c, prefix: prefix}
}

// Connector is the Registry of connector id.
func (r *Redis) Connector(id string) Registry { return &redisRegistry{Redis: r, id: id} }

func (r *Redis) key(d events.DeviceRef) string { return Key(r.prefix, d.User, d.Device) }

var ttlSeconds = strconv.Itoa(int(TTL.Seconds()))

// Locate reads the records with MGETs of locateBatch keys, in one pipeline.
func (r *Redis) Locate(ctx context.Context, devices []events.DeviceRef) (map[string][]events.DeviceRef, error) {
	where := make(map[string][]events.DeviceRef)
	if len(devices) == 0 {
		return where, nil
	}
	cmds := make([]*redis.SliceCmd, 0, (len(devices)+locateBatch-1)/locateBatch)
	_, err := r.client.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		for start := 0; start < len(devices); start += locateBatch {
			batch := devices[start:min(start+locateBatch, len(devices))]
			keys := make([]string, len(batch))
			for i, d := range batch {
				keys[i] = r.key(d)
			}
			cmds = append(cmds, pipe.MGet(ctx, keys...))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("presence: locate: %w", err)
	}
	for b, cmd := range cmds {
		for i, v := range cmd.Val() {
			record, _ := v.(string)
			if connector, _ := ParseRecord(record); connector != "" {
				where[connector] = append(where[connector], devices[b*locateBatch+i])
			}
		}
	}
	return where, nil
}

// redisRegistry is one connector's Registry on Redis.
type redisRegistry struct {
	*Redis
	id string
}

// Admit pipelines the revocation and suspension marks' EXISTS and the
// stamp script: one round trip.
func (p *redisRegistry) Admit(ctx context.Context, dev events.DeviceRef) (Admission, error) {
	var (
		revoked, suspended *redis.IntCmd
		stamp              *redis.Cmd
	)
	err := pipelineScript(ctx, p.client, admitScript, func(pipe redis.Pipeliner) {
		revoked = pipe.Exists(ctx, events.RevokedKey(p.prefix, dev.User, dev.Device))
		suspended = pipe.Exists(ctx, events.SuspendedKey(p.prefix, dev.User))
		stamp = admitScript.EvalSha(ctx, pipe, []string{p.key(dev)})
	})
	if err != nil {
		return Admission{}, fmt.Errorf("presence: admit: %w", err)
	}
	n, err := stamp.Uint64()
	if err != nil || n == 0 {
		return Admission{}, fmt.Errorf("presence: admit: stamp %v: %v", stamp.Val(), err)
	}
	return Admission{Revoked: revoked.Val() == 1, Suspended: suspended.Val() == 1, Stamp: n}, nil
}

// Claim runs the claim script: the record becomes this socket's unless a
// newer socket's is there.
func (p *redisRegistry) Claim(ctx context.Context, dev events.DeviceRef, stamp uint64) (bool, error) {
	n, err := claimScript.Run(ctx, p.client, []string{p.key(dev)},
		FormatRecord(p.id, stamp), strconv.FormatUint(stamp, 10), ttlSeconds).Int64()
	if err != nil {
		return false, fmt.Errorf("presence: claim: %w", err)
	}
	return n == 1, nil
}

// Refresh runs the refresh script once per RefreshBatch sockets, every call
// in one pipeline: one round trip.
func (p *redisRegistry) Refresh(ctx context.Context, held []Held) ([]Held, error) {
	if len(held) == 0 {
		return nil, nil
	}
	type call struct {
		batch []Held
		cmd   *redis.Cmd
	}
	calls := make([]call, 0, (len(held)+RefreshBatch-1)/RefreshBatch)
	err := pipelineScript(ctx, p.client, refreshScript, func(pipe redis.Pipeliner) {
		calls = calls[:0]
		for start := 0; start < len(held); start += RefreshBatch {
			batch := held[start:min(start+RefreshBatch, len(held))]
			keys := make([]string, len(batch))
			args := make([]any, 2+len(batch))
			args[0], args[1] = ttlSeconds, p.id
			for i, h := range batch {
				keys[i] = p.key(h.Dev)
				args[2+i] = strconv.FormatUint(h.Stamp, 10)
			}
			calls = append(calls, call{batch, refreshScript.EvalSha(ctx, pipe, keys, args...)})
		}
	})
	if err != nil {
		return nil, fmt.Errorf("presence: refresh: %w", err)
	}
	var lost []Held
	for _, c := range calls {
		idx, err := c.cmd.Int64Slice()
		if err != nil {
			return lost, fmt.Errorf("presence: refresh: %w", err)
		}
		for _, i := range idx {
			if i < 1 || int(i) > len(c.batch) {
				return lost, fmt.Errorf("presence: refresh: script reported socket %d of %d", i, len(c.batch))
			}
			lost = append(lost, c.batch[i-1])
		}
	}
	return lost, nil
}

// Release runs the release script once per RefreshBatch sockets, every
// call in one pipeline: one round trip.
func (p *redisRegistry) Release(ctx context.Context, held []Held) error {
	if len(held) == 0 {
		return nil
	}
	err := pipelineScript(ctx, p.client, releaseScript, func(pipe redis.Pipeliner) {
		for start := 0; start < len(held); start += RefreshBatch {
			batch := held[start:min(start+RefreshBatch, len(held))]
			keys := make([]string, len(batch))
			args := make([]any, len(batch))
			for i, h := range batch {
				keys[i] = p.key(h.Dev)
				args[i] = FormatRecord(p.id, h.Stamp)
			}
			releaseScript.EvalSha(ctx, pipe, keys, args...)
		}
	})
	if err != nil {
		return fmt.Errorf("presence: release: %w", err)
	}
	return nil
}

// pipelineScript runs the commands fill queues (EVALSHA of script among
// them) in one pipeline. If Redis's script cache is empty (it restarted or
// was flushed), it loads script once and runs the pipeline again (fill is
// called again).
func pipelineScript(ctx context.Context, c redis.UniversalClient, script *redis.Script, fill func(redis.Pipeliner)) error {
	run := func() error {
		pipe := c.Pipeline()
		fill(pipe)
		_, err := pipe.Exec(ctx)
		return err
	}
	err := run()
	if redis.HasErrorPrefix(err, "NOSCRIPT") {
		if err = script.Load(ctx, c).Err(); err == nil {
			err = run()
		}
	}
	return err
}
