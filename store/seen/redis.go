package seen

import (
	"context"
	_ "embed"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

var (
	//go:embed connected.lua
	connectedLua    string
	connectedScript = redis.NewScript(connectedLua)
	//go:embed refresh.lua
	refreshLua    string
	refreshScript = redis.NewScript(refreshLua)
	//go:embed disconnected.lua
	disconnectedLua    string
	disconnectedScript = redis.NewScript(disconnectedLua)
	//go:embed states.lua
	statesLua    string
	statesScript = redis.NewScript(statesLua)
)

// batch is how many sockets (or users) one script call of Refresh (or
// States) covers; the calls of one method go in one pipeline.
const batch = 500

// Redis keeps a user's sockets in the sorted set <prefix>seen:<user>
// (member "<device>|<stamp>", score its expiry in ms of Redis's clock; an
// expired member stays, as the last heartbeat of a socket whose connector
// died, until the user's next connect or leave; the set lives LastSeenTTL
// after its last connect) and the time their last socket left in
// <prefix>lastseen:<user> (ms since the epoch, for LastSeenTTL). A
// heartbeat is one ZADD per socket. Like
// store/presence it runs many keys in one script: a single Redis (or
// Sentinel), not a Cluster.
type Redis struct {
	client redis.UniversalClient
	prefix string
	ttl    time.Duration
}

var _ Store = (*Redis)(nil)

// NewRedis is the presence of users of the deployment whose keys start
// with prefix; ttl 0 means TTL (tests shorten it).
func NewRedis(c redis.UniversalClient, prefix string, ttl time.Duration) *Redis {
	if ttl <= 0 {
		ttl = TTL
	}
	return &Redis{client: c, prefix: prefix, ttl: ttl}
}

func (r *Redis) ttlMs() string { return strconv.FormatInt(r.ttl.Milliseconds(), 10) }

var (
	lastSeenSeconds = strconv.Itoa(int(LastSeenTTL.Seconds()))
	lastSeenMs      = strconv.FormatInt(LastSeenTTL.Milliseconds(), 10)
)

// Connected runs the connected script.
func (r *Redis) Connected(ctx context.Context, s Socket) (bool, error) {
	if err := checkSocket(s); err != nil {
		return false, err
	}
	n, err := connectedScript.Run(ctx, r.client, []string{socketsKey(r.prefix, s.Dev.User)},
		s.Dev.Device, strconv.FormatUint(s.Stamp, 10), r.ttlMs(), lastSeenMs).Int64()
	if err != nil {
		return false, fmt.Errorf("seen: connected: %w", err)
	}
	return n == 1, nil
}

// Refresh runs the refresh script once per batch sockets, in one pipeline.
func (r *Redis) Refresh(ctx context.Context, sockets []Socket) error {
	if len(sockets) == 0 {
		return nil
	}
	err := pipelineScript(ctx, r.client, refreshScript, func(pipe redis.Pipeliner) {
		for start := 0; start < len(sockets); start += batch {
			part := sockets[start:min(start+batch, len(sockets))]
			keys := make([]string, 0, len(part))
			args := make([]any, 2, 2+len(part))
			args[0], args[1] = r.ttlMs(), lastSeenMs
			for _, s := range part {
				keys = append(keys, socketsKey(r.prefix, s.Dev.User))
				args = append(args, member(s))
			}
			refreshScript.EvalSha(ctx, pipe, keys, args...)
		}
	})
	if err != nil {
		return fmt.Errorf("seen: refresh: %w", err)
	}
	return nil
}

// Disconnected runs the disconnected script.
func (r *Redis) Disconnected(ctx context.Context, s Socket, at time.Time) (bool, error) {
	if err := checkSocket(s); err != nil {
		return false, err
	}
	n, err := disconnectedScript.Run(ctx, r.client,
		[]string{socketsKey(r.prefix, s.Dev.User), lastSeenKey(r.prefix, s.Dev.User)},
		member(s), strconv.FormatInt(at.UnixMilli(), 10), lastSeenSeconds).Int64()
	if err != nil {
		return false, fmt.Errorf("seen: disconnected: %w", err)
	}
	return n == 1, nil
}

// States runs the states script once per batch users, in one pipeline.
func (r *Redis) States(ctx context.Context, users []string) (map[string]State, error) {
	out := make(map[string]State, len(users))
	if len(users) == 0 {
		return out, nil
	}
	var cmds []*redis.Cmd
	err := pipelineScript(ctx, r.client, statesScript, func(pipe redis.Pipeliner) {
		cmds = cmds[:0]
		for start := 0; start < len(users); start += batch {
			part := users[start:min(start+batch, len(users))]
			keys := make([]string, 0, 2*len(part))
			for _, u := range part {
				keys = append(keys, socketsKey(r.prefix, u), lastSeenKey(r.prefix, u))
			}
			cmds = append(cmds, statesScript.EvalSha(ctx, pipe, keys, r.ttlMs()))
		}
	})
	if err != nil {
		return nil, fmt.Errorf("seen: states: %w", err)
	}
	for b, cmd := range cmds {
		rows, err := cmd.Slice()
		if err != nil {
			return nil, fmt.Errorf("seen: states: %w", err)
		}
		for i, row := range rows {
			cells, _ := row.([]any)
			if len(cells) == 0 {
				continue
			}
			var st State
			if ms, err := strconv.ParseInt(fmt.Sprint(cells[0]), 10, 64); err == nil && ms > 0 {
				st.LastSeen = time.UnixMilli(ms).UTC()
			}
			for _, c := range cells[1:] {
				if dev, stamp, ok := parseMember(fmt.Sprint(c)); ok {
					st.arrive(dev, stamp)
				}
			}
			if len(st.Devices) == 0 && st.LastSeen.IsZero() {
				continue
			}
			slices.Sort(st.Devices) // a device may repeat: an old socket refreshed before its connector closed it
			st.Devices = slices.Compact(st.Devices)
			st.Online = len(st.Devices) > 0
			out[users[b*batch+i]] = st
		}
	}
	return out, nil
}

// pipelineScript runs fill's EVALSHAs in one pipeline, loading the script
// once if Redis does not know it yet (a restart forgets scripts).
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
