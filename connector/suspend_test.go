package connector

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/protocol"
)

// A suspension on the revocation channel closes every socket of the user
// here with 4004, and only theirs; while accounts' mark is set, the user's
// valid tokens are refused at upgrade with 403 suspended; a device
// revocation on the same channel still closes only that device (4003).
func TestSuspensionClosesEveryDeviceOfTheUser(t *testing.T) {
	e := startConnector(t, nil)
	ctx := context.Background()
	phone, laptop, other := e.dial("alice", "phone"), e.dial("alice", "laptop"), e.dial("bob", "b1")

	if err := e.rdb.Set(ctx, events.SuspendedKey(e.prefix, "alice"), "1", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	msg, _ := json.Marshal(events.UserSuspended{Type: events.TypeUserSuspended, User: "alice"})
	if err := e.rdb.Publish(ctx, events.RevocationChannel(e.prefix), msg).Err(); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]*client{"phone": phone, "laptop": laptop} {
		if code := c.closeCode(frameWait); code != protocol.CloseSuspended {
			t.Errorf("%s closed with %d, want %d", name, code, protocol.CloseSuspended)
		}
	}
	_, resp, err := e.tryDial(http.Header{"Authorization": {"Bearer " + e.is.token(t, "alice", "tablet", tokenOpts{})}}, nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("a suspended user's token: %v, %v; want 403", err, resp)
	}
	var p struct{ Code string }
	json.NewDecoder(resp.Body).Decode(&p)
	if p.Code != protocol.CodeSuspended {
		t.Errorf("problem code %q, want %q", p.Code, protocol.CodeSuspended)
	}

	// Bob's socket is still there: a revocation of his device closes it,
	// as before.
	rev, _ := json.Marshal(events.DeviceRevoked{Type: events.TypeDeviceRevoked, User: "bob", Device: "b1"})
	if err := e.rdb.Publish(ctx, events.RevocationChannel(e.prefix), rev).Err(); err != nil {
		t.Fatal(err)
	}
	if code := other.closeCode(frameWait); code != protocol.CloseRevoked {
		t.Errorf("bob's socket closed with %d, want %d (only his revocation closes it)", code, protocol.CloseRevoked)
	}

	// Lifted (accounts deletes the mark): the user connects again.
	if err := e.rdb.Del(ctx, events.SuspendedKey(e.prefix, "alice")).Err(); err != nil {
		t.Fatal(err)
	}
	e.dial("alice", "phone")
}
