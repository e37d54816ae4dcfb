package function

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/fn"
	"github.com/agentchat/agentchat/sdk/protocol"
)

func dev(user, device string) events.DeviceRef { return events.DeviceRef{User: user, Device: device} }

// summary renders deliveries as "connector: user/device,..." lines, sorted.
func summary(ps []published) string {
	var lines []string
	for _, p := range ps {
		var ts []string
		for _, t := range p.targets {
			ts = append(ts, t.User+"/"+t.Device)
		}
		lines = append(lines, p.connector+": "+strings.Join(ts, ","))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// seedGroup: alice (a1, a2), bob (b1, b2), carol (c1d, offline), dave (d1
// revoked, d2) in conversation c1; eve is not a member. Online: a1, b1 on
// connector A; a2, b2, d1, d2 on B; eve's e1 on A.
func seedGroup(fx *fixture) {
	fx.user("alice", "a1", "a2")
	fx.user("bob", "b1", "b2")
	fx.user("carol", "c1d")
	fx.user("dave", "d1", "d2")
	fx.user("eve", "e1")
	fx.revoke("d1")
	fx.conversation("c1", "alice", "bob", "carol", "dave")
	fx.online("A", dev("alice", "a1"), dev("bob", "b1"), dev("eve", "e1"))
	fx.online("B", dev("alice", "a2"), dev("bob", "b2"), dev("dave", "d1"), dev("dave", "d2"))
}

func TestStoredMessageGoesToOnlineMemberDevicesOncePerConnector(t *testing.T) {
	fx := newFixture(t)
	seedGroup(fx)
	w := fx.watch()
	f := fx.start(nil)
	// The audience persist checked: every current device of the members.
	st := stored(message("c1", 1, "alice", "a1", 32),
		audienceFor(dev("alice", "a1"), dev("alice", "a2"), dev("bob", "b1"), dev("bob", "b2"), dev("carol", "c1d"), dev("dave", "d2")))
	handle(t, f, st)
	got := w.drain()
	want := "A: alice/a1,bob/b1\nB: alice/a2,bob/b2,dave/d2"
	if summary(got) != want {
		t.Errorf("deliveries:\n%s\nwant:\n%s", summary(got), want)
	}
	for _, p := range got {
		if p.inner.ID() != st.ID() || p.inner.Type() != events.TypeMessageStored || string(p.inner.Data()) != string(st.Data()) {
			t.Errorf("%s got inner %s %s, want the stored event", p.connector, p.inner.Type(), p.inner.ID())
		}
	}
}

// TestStoredMessageGoesToItsAudience: route fans a stored message out to
// the audience persist checked, whatever the directory says now (it reads
// nothing for a stored message), and refuses one that carries none.
func TestStoredMessageGoesToItsAudience(t *testing.T) {
	fx := newFixture(t)
	seedGroup(fx)
	w := fx.watch()
	f := fx.start(nil)
	// bob is a member in the directory, but not in this message's audience
	// (persist stored it before bob joined, say).
	handle(t, f, stored(message("c1", 1, "alice", "a1", 32), audienceFor(dev("alice", "a1"), dev("alice", "a2"), dev("eve", "e1"))))
	if got, want := summary(w.drain()), "A: alice/a1,eve/e1\nB: alice/a2"; got != want {
		t.Errorf("deliveries:\n%s\nwant:\n%s", got, want)
	}
	noAudience := stored(message("c1", 2, "alice", "a1", 32), nil)
	if _, err := f.HandleEvent(context.Background(), noAudience); fn.StatusOf(err) != http.StatusBadRequest {
		t.Errorf("a stored message without an audience: %v, want 400", err)
	}
	if got := summary(w.drain()); got != "" {
		t.Errorf("deliveries of a refused event: %q", got)
	}
}

func TestRejectionGoesToTheSendingDeviceOnly(t *testing.T) {
	fx := newFixture(t)
	seedGroup(fx)
	w := fx.watch()
	f := fx.start(nil)
	handle(t, f, must(events.NewMessageRejected("c1", "alice", "a2", events.MessageRejected{
		ClientMessageID: "x", Code: protocol.CodeMissingKeys, Reason: "r", MissingDevices: []string{"b2"}})))
	if got, want := summary(w.drain()), "B: alice/a2"; got != want {
		t.Errorf("deliveries %q, want %q", got, want)
	}
}

func TestReceiptsAndTypingSkipTheActingDevice(t *testing.T) {
	fx := newFixture(t)
	seedGroup(fx)
	w := fx.watch()
	f := fx.start(nil)
	src := events.SourceConnectorPrefix + "A"
	tests := []struct {
		name string
		e    event.Event
		want string
	}{
		{"delivered", must(events.NewReceipt(events.TypeReceiptDelivered, src, "c1", "bob", "b1", 3)),
			"A: alice/a1\nB: alice/a2,bob/b2,dave/d2"},
		{"read", must(events.NewReceipt(events.TypeReceiptRead, src, "c1", "alice", "a2", 3)),
			"A: alice/a1,bob/b1\nB: bob/b2,dave/d2"},
		{"typing", must(events.NewTyping(src, "c1", "dave", "d2", events.TypingStarted)),
			"A: alice/a1,bob/b1\nB: alice/a2,bob/b2"},
		{"typing from a non-member", must(events.NewTyping(src, "c1", "eve", "e1", events.TypingStarted)), "A: eve/e1"}, // not_member: TestTypingFromOutsideIsAnsweredNotMember
		{"receipt from a non-member", must(events.NewReceipt(events.TypeReceiptRead, src, "c1", "eve", "e1", 1)), ""},
		{"typing in no conversation", must(events.NewTyping(src, "nope", "alice", "a1", events.TypingStarted)), "A: alice/a1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			handle(t, f, tt.e)
			if got := summary(w.drain()); got != tt.want {
				t.Errorf("deliveries:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

func TestAgentActivityGoesToAllMemberDevices(t *testing.T) {
	fx := newFixture(t)
	seedGroup(fx)
	fx.agent("bot", "model", "bot-d")
	fx.agent("stranger", "model", "stranger-d")
	fx.conversation("c2", "alice", "bot")
	w := fx.watch()
	f := fx.start(nil)
	partial := func(agentID string) event.Event {
		e := must(events.New(events.TypeAgentPartial, events.RandomID(), events.Meta{Source: events.SourceAgentPrefix + agentID,
			Conversation: "c2", Sender: agentID, Device: agentID + "-d", AgentID: agentID},
			events.AgentPartial{AgentID: agentID, ReplyTo: 1, Index: 0, Envelope: message("c2", 1, "x", "a1", 16).Envelope}))
		return e
	}
	handle(t, f, partial("bot"))
	if got, want := summary(w.drain()), "A: alice/a1\nB: alice/a2"; got != want {
		t.Errorf("deliveries %q, want %q", got, want)
	}
	handle(t, f, partial("stranger"))
	if got := summary(w.drain()); got != "" {
		t.Errorf("a non-member agent's partial was delivered: %q", got)
	}
}

func TestMalformedEventsAreRefused(t *testing.T) {
	fx := newFixture(t)
	seedGroup(fx)
	f := fx.start(nil)
	bad := must(events.NewTyping(events.SourceConnectorPrefix+"A", "c1", "alice", "a1", events.TypingStarted))
	_ = bad.SetData("application/json", []byte(`{"state":"dancing"}`))
	foreign := must(events.NewTyping(events.SourceConnectorPrefix+"A", "c1", "alice", "a1", events.TypingStarted))
	foreign.SetType(events.TypeMessageSent)
	// The types whose handler decodes the data validate it there.
	badStored := stored(message("c1", 1, "alice", "a1", 16), audienceFor(dev("alice", "a1")))
	_ = badStored.SetData("application/json", []byte(`{"seq":"one"}`))
	badSync := must(events.NewSyncRequested(events.SourceConnectorPrefix+"A", "c1", "alice", "a1", events.SyncRequested{}))
	_ = badSync.SetData("application/json", []byte(`{"after":-1}`))
	for _, e := range []event.Event{bad, foreign, badStored, badSync} {
		if _, err := f.HandleEvent(context.Background(), e); fn.StatusOf(err) != http.StatusBadRequest {
			t.Errorf("%s: err %v, want a 400 result", e.Type(), err)
		}
	}
}

func TestHandleBeforeStartFails(t *testing.T) {
	f := New()
	if ok, _ := f.Ready(context.Background()); ok {
		t.Error("ready before Start")
	}
	if _, err := f.HandleEvent(context.Background(), event.New()); !errors.Is(err, errNotStarted) {
		t.Errorf("err %v, want errNotStarted", err)
	}
	if err := f.Start(context.Background(), map[string]string{"MONGODB_URI": "mongodb://x"}); err == nil {
		t.Error("Start without REDIS_URL succeeded")
	}
}

func TestSummaryHelper(t *testing.T) {
	got := summary([]published{{connector: "B", targets: []events.DeviceRef{dev("u", "d")}}, {connector: "A"}})
	if want := "A: \nB: u/d"; got != want {
		t.Errorf("summary %q, want %q", got, want)
	}
	if !slices.Equal(except([]events.DeviceRef{dev("a", "1"), dev("a", "2")}, dev("a", "1")), []events.DeviceRef{dev("a", "2")}) {
		t.Error("except")
	}
}

// TestMembershipFollowsTheChangeLog: accounts logs a membership change
// before it updates the conversation document; route must already go by
// the log.
func TestMembershipFollowsTheChangeLog(t *testing.T) {
	fx := newFixture(t)
	seedGroup(fx)
	fx.insert(collChanges, bson.M{"_id": "c1/1", "conversation": "c1", "rev": 1, "op": "remove", "user": "bob",
		"members": []string{"alice", "bob", "carol", "dave", "eve"}})
	fx.insert(collChanges, bson.M{"_id": "c1/2", "conversation": "c1", "rev": 2, "op": "remove", "user": "bob",
		"members": []string{"alice", "carol", "dave", "eve"}})
	w := fx.watch()
	f := fx.start(nil)
	handle(t, f, must(events.NewTyping(events.SourceConnectorPrefix+"A", "c1", "alice", "a1", events.TypingStarted)))
	if got, want := summary(w.drain()), "A: eve/e1\nB: alice/a2,dave/d2"; got != want {
		t.Errorf("deliveries:\n%s\nwant:\n%s", got, want)
	}
}

// TestMediaAnswersGoToTheAskingDeviceOnly: every answer of media (a URL,
// a stored blob, a refusal) is for the device that asked, not for the
// conversation's members — not even for eve, a non-member whose request
// media refused.
func TestMediaAnswersGoToTheAskingDeviceOnly(t *testing.T) {
	fx := newFixture(t)
	seedGroup(fx)
	w := fx.watch()
	f := fx.start(nil)
	sum := strings.Repeat("c", 64)
	ask := func(user, device string) event.Event {
		return must(events.NewMediaRequest(events.TypeMediaDownloadRequested, "/x", "c1", user, device,
			events.MediaDownloadRequested{MediaID: "m1"}))
	}
	for _, a := range []struct {
		typ, user, device, want string
		data                    any
	}{
		{events.TypeMediaUploadReady, "alice", "a2", "B: alice/a2",
			events.MediaUploadReady{MediaID: "m1", UploadURL: "http://s3/x", ExpiresAt: time.Now()}},
		{events.TypeMediaStored, "alice", "a2", "B: alice/a2", events.MediaStored{MediaID: "m1", Size: 5, SHA256: sum}},
		{events.TypeMediaDownloadReady, "bob", "b1", "A: bob/b1",
			events.MediaDownloadReady{MediaID: "m1", DownloadURL: "http://s3/x", ExpiresAt: time.Now(), Size: 5, SHA256: sum}},
		{events.TypeMediaRejected, "eve", "e1", "A: eve/e1", events.MediaRejected{MediaID: "m1",
			Request: events.TypeMediaDownloadRequested, Code: protocol.CodeNotMember, Reason: "not a member"}},
	} {
		handle(t, f, must(events.NewMediaAnswer(a.typ, ask(a.user, a.device), a.data)))
		if got := summary(w.drain()); got != a.want {
			t.Errorf("%s: deliveries %q, want %q", a.typ, got, a.want)
		}
	}
}
