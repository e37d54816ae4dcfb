package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/agentchat/agentchat/internal/testenv"
	"github.com/agentchat/agentchat/sdk/client"
	"github.com/agentchat/agentchat/sdk/e2ee"
)

// A user's send rate holds across their devices and connectors: alice's
// three devices — two on one connector, one on the other — send at once;
// the connectors refuse what is over her rate (shared in Redis), her
// clients send the refused messages again after afterMs, and every message
// is stored exactly once, never faster than the rate allows.
func TestUserSendRateAcrossDevicesAndConnectors(t *testing.T) {
	const rate, burst, each = 20, 5, 8
	e := start(t, opts{connectors: 2, functions: spineFunctions, env: map[string]string{
		"USER_SEND_RATE": strconv.Itoa(rate), "USER_SEND_BURST": strconv.Itoa(burst)}})
	ctx := context.Background()
	alice, bob := signup(t, e, "alice"), signup(t, e, "bob")
	alice2, alice3 := secondDevice(t, e, alice), secondDevice(t, e, alice)
	conv, err := alice.sess.CreateConversation(ctx, "direct", []string{alice.id, bob.id}, "")
	if err != nil {
		t.Fatal(err)
	}
	urls := e.p.ConnectorURLs()
	devices := []*client.Client{alice.dial(t, e, urls[0]), alice2.dial(t, e, urls[0]), alice3.dial(t, e, urls[1])}

	begin := time.Now()
	for i, c := range devices {
		for n := range each {
			if _, err := c.Send(ctx, conv.ID, e2ee.Content{Text: fmt.Sprintf("device %d, message %d", i, n)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	total := len(devices) * each
	testenv.Eventually(t, 2*time.Minute, 50*time.Millisecond, func() bool { return len(e.storedSeqs(t, conv.ID)) >= total },
		"alice's messages stored")
	e.checkStored(t, conv.ID, total)

	// The rate held: the k-th message stored had k tokens taken before
	// it, all after begin, from a bucket of burst refilled at rate.
	cur, err := e.mongo.Collection("messages").Find(ctx, bson.D{{Key: "conversation", Value: conv.ID}},
		options.Find().SetSort(bson.D{{Key: "storedAt", Value: 1}}).SetProjection(bson.D{{Key: "storedAt", Value: 1}}))
	if err != nil {
		t.Fatal(err)
	}
	var docs []struct {
		StoredAt time.Time `bson:"storedAt"`
	}
	if err := cur.All(ctx, &docs); err != nil {
		t.Fatal(err)
	}
	for k, d := range docs {
		// +1: storedAt is in milliseconds, and two clocks are read.
		if limit := burst + rate*d.StoredAt.Sub(begin).Seconds() + 1; float64(k+1) > limit {
			t.Errorf("message %d stored %v after the first send: over burst + rate × elapsed (%.1f)", k+1, d.StoredAt.Sub(begin), limit)
		}
	}

	// And it was reached: the connectors refused some sends, both of them
	// counting against the one budget.
	var refused int
	for i := range urls {
		refused += userLimited(t, e.p.Connector(i).URL()+"/metrics")
	}
	if refused == 0 {
		t.Errorf("no send was refused: the test never reached alice's rate")
	}
	t.Logf("%d messages from 3 devices on 2 connectors stored in %v; %d refusals on the way", total,
		time.Since(begin).Round(time.Millisecond), refused)
}

var userLimitedSend = regexp.MustCompile(`(?m)^agentchat_connector_user_limited_total\{type="send"\} (\d+)$`)

// userLimited reads a connector's count of sends refused by user limits.
func userLimited(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	m := userLimitedSend.FindSubmatch(body)
	if m == nil {
		return 0 // no refusal on this connector: the series has no child yet
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}
