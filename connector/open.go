package connector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/agentchat/agentchat/sdk/tracing"
	"github.com/agentchat/agentchat/store/presence"
	"github.com/agentchat/agentchat/store/seen"
	"github.com/agentchat/agentchat/store/userlimit"
)

// Open builds a Server with the production implementations: the HTTP sink
// at cfg.Sink, presence, deliveries and the per-user limits in Redis at
// cfg.RedisURL, and tokens
// verified with the JWKS at cfg.JWKSURL. Call the returned close function
// (it closes the Redis client) after the server has stopped.
func Open(ctx context.Context, cfg Config, log *slog.Logger) (*Server, func() error, error) {
	cfg = cfg.withDefaults()
	switch {
	case cfg.Sink == "":
		return nil, nil, errors.New("connector: K_SINK is required")
	case cfg.JWKSURL == "":
		return nil, nil, errors.New("connector: JWKS_URL is required")
	}
	sink, err := NewHTTPSink(cfg.Sink, cfg.CEOverrides)
	if err != nil {
		return nil, nil, err
	}
	opt, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		return nil, nil, fmt.Errorf("connector: REDIS_URL: %w", err)
	}
	rdb := redis.NewClient(opt)
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := rdb.Ping(pctx).Err(); err != nil {
		rdb.Close()
		return nil, nil, fmt.Errorf("connector: connect redis: %w", err)
	}
	s, err := New(cfg, Deps{
		Sink:       sink,
		Presence:   presence.NewRedis(rdb, cfg.RedisPrefix).Connector(cfg.ConnectorID),
		Deliveries: NewRedisDeliveries(rdb, cfg.RedisPrefix, cfg.ConnectorID),
		Tokens:     NewJWKSVerifier(cfg.JWKSURL, cfg.TokenAudience, cfg.TokenIssuer),
		Limits:     userlimit.NewRedis(rdb, cfg.RedisPrefix),
		Seen:       seen.NewRedis(rdb, cfg.RedisPrefix, 0),
		Logger:     log,
		Tracer:     tracing.Tracer(), // nil unless main set tracing up (otlp.Setup)
	})
	if err != nil {
		rdb.Close()
		return nil, nil, err
	}
	return s, rdb.Close, nil
}
