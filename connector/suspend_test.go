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

// A suspension or revocation announced while a socket is between its
// admission (which read no mark yet) and its accept: the announcement
// finds no socket to close, so accept itself must refuse it — with 4004
// for the suspension, 4003 for the revocation — rather than let the
// socket live until its token expires. The hook holds each socket there
// (after the upgrade, before accept) while the cut is announced and
// handled.
func TestCutWhileAdmittingIsRefusedAtAccept(t *testing.T) {
	for _, tc := range []struct {
		name string
		cut  any
		want int
	}{
		{"suspension", events.UserSuspended{Type: events.TypeUserSuspended, User: "alice"}, protocol.CloseSuspended},
		{"revocation", events.DeviceRevoked{Type: events.TypeDeviceRevoked, User: "alice", Device: "phone"}, protocol.CloseRevoked},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rdb, prefix := testRedis(t)
			h := newHoldFirst()
			e := startConnectorWith(t, rdb, prefix, newIssuer(t), newSink(t), nil, func(s *Server) { s.upgraded = h.hook })
			held := e.dialUpgraded("alice", "phone")
			<-h.reached // admitted (no mark), upgraded, not yet accepted
			msg, _ := json.Marshal(tc.cut)
			if err := rdb.Publish(context.Background(), events.RevocationChannel(prefix), msg).Err(); err != nil {
				t.Fatal(err)
			}
			eventually(t, frameWait, "the cut to be heard", func() bool {
				e.srv.mu.RLock()
				defer e.srv.mu.RUnlock()
				return len(e.srv.cuts) == 1
			})
			close(h.release)
			if got := held.closeCode(frameWait); got != tc.want {
				t.Errorf("the socket admitted before the %s: close code %d, want %d", tc.name, got, tc.want)
			}
			eventually(t, frameWait, "no socket held", func() bool { return e.srv.Connections() == 0 })
			// A later admission is not refused by the remembered cut: the
			// marks decide (none set here, as after an unsuspend).
			assertAlive(t, e.dial("alice", "laptop"), "a socket admitted after the cut")
		})
	}
}
