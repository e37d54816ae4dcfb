package function

import (
	"cmp"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/kelseyhightower/envconfig"
)

// Config is media's configuration, read once by Start from the environment
// (func-go's config map is that same environment plus an optional ./cfg
// file, which agentchat does not use). func.yaml maps these variables to
// the agentchat-s3 Secret and the agentchat-config ConfigMap on a cluster.
type Config struct {
	// S3Endpoint is host:port of the S3 API as this function reaches it.
	S3Endpoint  string `envconfig:"S3_ENDPOINT" required:"true"`
	S3AccessKey string `envconfig:"S3_ACCESS_KEY" required:"true"`
	S3SecretKey string `envconfig:"S3_SECRET_KEY" required:"true"`
	S3UseSSL    flag   `envconfig:"S3_USE_SSL"`
	// S3Region is fixed so that presigning never needs a round trip to S3.
	S3Region string `envconfig:"S3_REGION" default:"us-east-1"`
	// Bucket holds every media object; Start creates it when missing.
	Bucket string `envconfig:"S3_BUCKET" default:"agentchat-media"`
	// PublicEndpoint is host:port of S3 as clients reach it, when that differs
	// from S3Endpoint (a cluster-internal service name, say). Presigned URLs
	// sign the host, so they must be made for the address the client uses.
	PublicEndpoint string `envconfig:"S3_PUBLIC_ENDPOINT"`
	PublicUseSSL   flag   `envconfig:"S3_PUBLIC_USE_SSL"`

	// MaxSize caps one upload; it may only lower events.MaxMediaSize.
	MaxSize int64 `envconfig:"MEDIA_MAX_SIZE" default:"104857600"`
	// URLExpiry is how long a presigned PUT URL stays valid.
	URLExpiry time.Duration `envconfig:"MEDIA_URL_EXPIRY" default:"15m"`

	LogLevel level `envconfig:"LOG_LEVEL"`
}

// A ConfigMap key that is present but empty arrives as an empty variable;
// flag and level read it as "not set" where envconfig would refuse it.

// flag is a bool for which "" means false.
type flag bool

func (b *flag) Decode(s string) error {
	v, err := strconv.ParseBool(cmp.Or(s, "false"))
	*b = flag(v)
	return err
}

// level is a slog level for which "" means INFO.
type level slog.Level

func (l *level) Decode(s string) error {
	return (*slog.Level)(l).UnmarshalText([]byte(cmp.Or(s, "INFO")))
}

// loadConfig reads and checks Config.
func loadConfig() (Config, error) {
	var c Config
	if err := envconfig.Process("", &c); err != nil {
		return c, err
	}
	switch {
	case c.MaxSize < 1 || c.MaxSize > events.MaxMediaSize:
		return c, fmt.Errorf("MEDIA_MAX_SIZE %d, want 1..%d", c.MaxSize, events.MaxMediaSize)
	case c.URLExpiry < time.Second || c.URLExpiry > 7*24*time.Hour:
		return c, fmt.Errorf("MEDIA_URL_EXPIRY %s, want 1s..168h (the S3 limit)", c.URLExpiry)
	}
	return c, nil
}
