package function

import (
	"context"
	"testing"
	"time"

	"github.com/agentchat/agentchat/sdk/events"
	storepresence "github.com/agentchat/agentchat/store/presence"
)

// TestLocateReadsStampedAndBareRecords: connectors write "<id>|<stamp>"
// (store/presence.FormatRecord); a connector from before stamps wrote the bare id.
func TestLocateReadsStampedAndBareRecords(t *testing.T) {
	fx := newFixture(t)
	ctx := context.Background()
	hub := &redisHub{client: fx.redis, prefix: fx.prefix, where: storepresence.NewRedis(fx.redis, fx.prefix)}
	stamped, bare, offline := events.DeviceRef{User: "alice", Device: "a1"}, events.DeviceRef{User: "bob", Device: "b1"}, events.DeviceRef{User: "carol", Device: "c1"}
	fx.redis.Set(ctx, storepresence.Key(fx.prefix, stamped.User, stamped.Device), storepresence.FormatRecord("conn-a", 1_767_000_000_000_001), time.Minute)
	fx.redis.Set(ctx, storepresence.Key(fx.prefix, bare.User, bare.Device), "conn-b", time.Minute)

	where, err := hub.Locate(ctx, []events.DeviceRef{stamped, bare, offline})
	if err != nil {
		t.Fatal(err)
	}
	if len(where) != 2 || len(where["conn-a"]) != 1 || where["conn-a"][0] != stamped || len(where["conn-b"]) != 1 || where["conn-b"][0] != bare {
		t.Errorf("Locate: got %v, want alice/a1 on conn-a and bob/b1 on conn-b", where)
	}
}
