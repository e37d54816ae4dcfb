package partials

import (
	"cmp"
	"context"
	_ "embed"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

var (
	//go:embed keep.lua
	keepLua    string
	keepScript = redis.NewScript(keepLua)
	//go:embed finish.lua
	finishLua    string
	finishScript = redis.NewScript(finishLua)
	//go:embed status.lua
	statusLua    string
	statusScript = redis.NewScript(statusLua)
)

// Redis keeps each answer in a hash, AnswerKey(prefix, k): field "i:<index>"
// → record, "n" and "bytes" (what is kept), "si" and "s" (the latest
// status's index and record), "end" once finished; and the
// answers in progress of a conversation in a set, ConversationKey(prefix,
// conversation), of "<agent>/<replyTo>". Both expire Limits.TTL after the
// latest partial kept. Keep and Finish are scripts over the two keys of one
// answer; InProgress pipelines SMEMBERS, then HGETALL of the answers found.
// Ids never hold "/" (events.ValidID), so the names cannot collide.
type Redis struct {
	client redis.UniversalClient
	prefix string
	limits Limits
	ttlMs  string
}

var _ Store = (*Redis)(nil)

// NewRedis keeps partials under prefix within limits (zero fields:
// DefaultLimits).
func NewRedis(c redis.UniversalClient, prefix string, limits Limits) *Redis {
	l := limits.orDefault()
	return &Redis{client: c, prefix: prefix, limits: l, ttlMs: strconv.FormatInt(l.TTL.Milliseconds(), 10)}
}

// ConversationKey is the set of a conversation's answers in progress.
func ConversationKey(prefix, conversation string) string { return prefix + "partials:" + conversation }

// AnswerKey is the hash of one answer.
func AnswerKey(prefix string, k Key) string {
	return ConversationKey(prefix, k.Conversation) + "/" + member(k)
}

func member(k Key) string { return k.Agent + "/" + strconv.FormatInt(k.ReplyTo, 10) }

// Keep runs keep.lua.
func (r *Redis) Keep(ctx context.Context, k Key, index int, record []byte) (bool, error) {
	n, err := keepScript.Run(ctx, r.client, []string{AnswerKey(r.prefix, k), ConversationKey(r.prefix, k.Conversation)},
		member(k), "i:"+strconv.Itoa(index), record, r.limits.MaxPartials, r.limits.MaxBytes, r.ttlMs).Int()
	if err != nil {
		return false, fmt.Errorf("partials: keep: %w", err)
	}
	return n == 1, nil
}

// KeepStatus runs status.lua.
func (r *Redis) KeepStatus(ctx context.Context, k Key, index int, record []byte) (bool, error) {
	n, err := statusScript.Run(ctx, r.client, []string{AnswerKey(r.prefix, k), ConversationKey(r.prefix, k.Conversation)},
		member(k), strconv.Itoa(index), record, r.limits.MaxBytes, r.ttlMs).Int()
	if err != nil {
		return false, fmt.Errorf("partials: keep status: %w", err)
	}
	return n == 1, nil
}

// Finish runs finish.lua.
func (r *Redis) Finish(ctx context.Context, k Key) error {
	err := finishScript.Run(ctx, r.client, []string{AnswerKey(r.prefix, k), ConversationKey(r.prefix, k.Conversation)},
		member(k), r.ttlMs).Err()
	if err != nil {
		return fmt.Errorf("partials: finish: %w", err)
	}
	return nil
}

// InProgress reads the conversations' sets, then the answers they name.
func (r *Redis) InProgress(ctx context.Context, conversations []string) ([]Answer, error) {
	if len(conversations) == 0 {
		return nil, nil
	}
	sets := make([]*redis.StringSliceCmd, len(conversations))
	if _, err := r.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, c := range conversations {
			sets[i] = p.SMembers(ctx, ConversationKey(r.prefix, c))
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("partials: in progress: %w", err)
	}
	var keys []Key
	for i, c := range conversations {
		var here []Key
		for _, m := range sets[i].Val() {
			agent, seq, ok := strings.Cut(m, "/")
			replyTo, err := strconv.ParseInt(seq, 10, 64)
			if !ok || err != nil {
				continue
			}
			here = append(here, Key{Conversation: c, Agent: agent, ReplyTo: replyTo})
		}
		slices.SortFunc(here, func(a, b Key) int { return cmp.Or(cmp.Compare(a.Agent, b.Agent), cmp.Compare(a.ReplyTo, b.ReplyTo)) })
		keys = append(keys, here...)
	}
	if len(keys) == 0 {
		return nil, nil
	}
	hashes := make([]*redis.MapStringStringCmd, len(keys))
	if _, err := r.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			hashes[i] = p.HGetAll(ctx, AnswerKey(r.prefix, k))
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("partials: in progress: %w", err)
	}
	var out []Answer
	for i, k := range keys {
		h := hashes[i].Val()
		if _, done := h["end"]; done {
			continue
		}
		a := Answer{Key: k}
		if s, ok := h["s"]; ok {
			a.Status = []byte(s)
		}
		for f, v := range h {
			idx, ok := strings.CutPrefix(f, "i:")
			if !ok {
				continue
			}
			n, err := strconv.Atoi(idx)
			if err != nil {
				continue
			}
			a.Partials = append(a.Partials, Partial{Index: n, Record: []byte(v)})
		}
		if len(a.Partials) == 0 && a.Status == nil {
			continue // expired since the set was read
		}
		slices.SortFunc(a.Partials, func(x, y Partial) int { return cmp.Compare(x.Index, y.Index) })
		out = append(out, a)
	}
	return out, nil
}
