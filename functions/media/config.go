package function

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/fn"
)

// Config is media's configuration, read once by Start from func's config
// map (the environment, plus an optional ./cfg file, which agentchat does
// not use). func.yaml maps these variables to the agentchat-s3 and
// agentchat-mongodb Secrets and the agentchat-config ConfigMap on a
// cluster. An empty value means "not set" (a ConfigMap key that is
// present but empty arrives empty).
type Config struct {
	// S3Endpoint is host:port of the S3 API as this function reaches it.
	S3Endpoint  string `env:"S3_ENDPOINT" required:"true"`
	S3AccessKey string `env:"S3_ACCESS_KEY" required:"true"`
	S3SecretKey string `env:"S3_SECRET_KEY" required:"true"`
	S3UseSSL    bool   `env:"S3_USE_SSL"`
	// S3Region is fixed so that presigning never needs a round trip to S3.
	S3Region string `env:"S3_REGION" default:"us-east-1"`
	// Bucket holds every media object; Start creates it when missing.
	Bucket string `env:"S3_BUCKET" default:"agentchat-media"`
	// PublicEndpoint is host:port of S3 as clients reach it, when that differs
	// from S3Endpoint (a cluster-internal service name, say). Presigned URLs
	// sign the host, so they must be made for the address the client uses.
	PublicEndpoint string `env:"S3_PUBLIC_ENDPOINT"`
	PublicUseSSL   bool   `env:"S3_PUBLIC_USE_SSL"`

	// MongoURI and Database are where the directory is: media asks it
	// whether the requesting user is a member of the conversation
	// (store/directory, the contract persist and route read too).
	MongoURI string `env:"MONGODB_URI" required:"true"`
	Database string `env:"MONGODB_DATABASE" default:"agentchat"`

	// MaxSize caps one upload (the encrypted blob), at most
	// events.MaxMediaSize (S3's limit for one PUT).
	MaxSize int64 `env:"MEDIA_MAX_SIZE" default:"104857600"`
	// URLExpiry is how long a presigned PUT URL stays valid.
	URLExpiry time.Duration `env:"MEDIA_URL_EXPIRY" default:"15m"`
	// DownloadExpiry is how long a presigned GET URL stays valid: short,
	// since whoever holds the URL can fetch the (encrypted) blob; a client
	// asks again for a new one.
	DownloadExpiry time.Duration `env:"MEDIA_DOWNLOAD_EXPIRY" default:"5m"`

	// MultipartThreshold: a blob larger than this is uploaded in parts
	// (presigned UploadPart URLs), so that a large file is not one
	// request that a flaky network must carry from start to end.
	MultipartThreshold int64 `env:"MEDIA_MULTIPART_THRESHOLD" default:"67108864" min:"1"`
	// PartSize is a multipart upload's part size, at least S3's minimum
	// for every part but the last; media raises it for a blob that would
	// otherwise need more than events.MaxMediaParts parts.
	PartSize int64 `env:"MEDIA_PART_SIZE" default:"16777216" min:"5242880" max:"5368709120"`
	// PendingExpiryDays is the age in days (S3 lifecycle's unit) at which
	// an upload that was never confirmed expires: Start installs a bucket
	// lifecycle rule for objects tagged state=pending (lifecycle.go). 0 leaves
	// the bucket's lifecycle alone (an operator who manages it).
	PendingExpiryDays int `env:"MEDIA_PENDING_EXPIRY_DAYS" default:"1" min:"0" max:"36500"`

	LogLevel slog.Level `env:"LOG_LEVEL" default:"INFO"`
}

// loadConfig reads and checks Config from func's config map.
func loadConfig(m map[string]string) (Config, error) {
	var c Config
	if err := fn.Load(m, &c); err != nil {
		return c, err
	}
	switch {
	case c.MaxSize < 1 || c.MaxSize > events.MaxMediaSize:
		return c, fmt.Errorf("MEDIA_MAX_SIZE %d, want 1..%d", c.MaxSize, int64(events.MaxMediaSize))
	case c.URLExpiry < time.Second || c.URLExpiry > 7*24*time.Hour:
		return c, fmt.Errorf("MEDIA_URL_EXPIRY %s, want 1s..168h (the S3 limit)", c.URLExpiry)
	case c.DownloadExpiry < time.Second || c.DownloadExpiry > 7*24*time.Hour:
		return c, fmt.Errorf("MEDIA_DOWNLOAD_EXPIRY %s, want 1s..168h (the S3 limit)", c.DownloadExpiry)
	}
	return c, nil
}
