package client

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/agentchat/agentchat/sdk/e2ee"
	"github.com/agentchat/agentchat/sdk/protocol"
)

// member is a group member device as the directory lists it (user set,
// so that the client tells a group from a direct conversation).
func member(d device, sk *e2ee.SigningKey, agent bool) e2ee.Recipient {
	r := d.recipient()
	r.User, r.Agent = d.user, agent
	if sk != nil {
		r.SigningKey = sk.PublicKeyBytes()
	}
	return r
}

// asStored is what route delivers for a send frame stored at seq.
func asStored(f protocol.Frame, seq int64, from device) protocol.Frame {
	return protocol.Frame{Type: protocol.TypeMessage, ID: f.ID, Conversation: f.Conversation, Seq: seq,
		Sender: from.user, SenderDevice: from.id, Envelope: f.Envelope, StoredAt: time.Now().UTC()}
}

// groupFixture: alice's client and bob's client in a group with carol
// (a device the test holds) and an agent.
type groupFixture struct {
	alice, bob, carol, agent device
	aliceSK                  *e2ee.SigningKey
	dir                      *mapDirectory
	a, b                     *Client
	as, bs                   *fakeConn
}

func newGroupFixture(t *testing.T) *groupFixture {
	g := &groupFixture{alice: newDevice(t, "alice", "a1"), bob: newDevice(t, "bob", "b1"),
		carol: newDevice(t, "carol", "c1"), agent: newDevice(t, "calc", "calc-d"), aliceSK: mustSigningKey(t)}
	g.dir = &mapDirectory{}
	g.dir.set(convID, member(g.alice, g.aliceSK, false), member(g.bob, nil, false), member(g.carol, nil, false), member(g.agent, nil, true))
	fa, fb := newFakeConnector(t, "tok"), newFakeConnector(t, "tok")
	cfg := testConfig(g.alice, g.dir, fa.URL)
	cfg.SigningKey = g.aliceSK
	g.a = dial(t, cfg)
	g.as = fa.accept()
	g.b = dial(t, testConfig(g.bob, g.dir, fb.URL))
	g.bs = fb.accept()
	return g
}

// TestGroupMessageIsSealedOnce: in a group the first message makes a
// sender key, sends its distribution (v1, for every member device) and
// holds the message until the distribution is stored; the message is
// then one v2 ciphertext whose only keys are the agent's, signed; bob
// reads the distribution silently and the message verified; the agent
// opens it with its wrapped key; carol with the distributed chain key.
func TestGroupMessageIsSealedOnce(t *testing.T) {
	g := newGroupFixture(t)
	ctx := context.Background()
	id, err := g.a.Send(ctx, convID, e2ee.Content{Text: "hello group"})
	if err != nil {
		t.Fatal(err)
	}
	fs := slices.DeleteFunc(written(t, g.a, g.as), func(f protocol.Frame) bool { return f.Type != protocol.TypeSend })
	if len(fs) != 1 || !e2ee.IsDistributionID(fs[0].ID) {
		t.Fatalf("before the distribution is stored, wrote %+v; want the distribution alone", fs)
	}
	dist := fs[0]
	if dist.Envelope.V != e2ee.Version || !slices.Equal(dist.Envelope.Devices(), []string{"a1", "b1", "c1", "calc-d"}) {
		t.Fatalf("distribution: v%d for %v", dist.Envelope.V, dist.Envelope.Devices())
	}
	g.as.send(protocol.Frame{Type: protocol.TypeStored, ID: dist.ID, Conversation: convID, Seq: 1})
	msg := g.as.expect(protocol.TypeSend)
	env := msg.Envelope
	if msg.ID != id || env.V != e2ee.Version2 || len(env.Keys) != 1 || env.Keys[0].Device != "calc-d" {
		t.Fatalf("group message: id %s v%d keys %v", msg.ID, env.V, env.Devices())
	}
	if err := e2ee.VerifyEnvelope(env, convID, "a1", g.aliceSK.PublicKeyBytes()); err != nil {
		t.Fatalf("not signed: %v", err)
	}
	// The agent: its wrapped key, no chain.
	ad := e2ee.AssociatedData{Conversation: convID, SenderDevice: "a1", ClientMessageID: id}
	if p, err := e2ee.Open(env, ad, "calc-d", g.agent.key); err != nil || !containsText(p, "hello group") {
		t.Fatalf("agent: %s %v", p, err)
	}
	// Carol: the chain key from the distribution.
	dplain, err := e2ee.Open(dist.Envelope, e2ee.AssociatedData{Conversation: convID, SenderDevice: "a1", ClientMessageID: dist.ID}, "c1", g.carol.key)
	if err != nil {
		t.Fatal(err)
	}
	dc, err := e2ee.UnmarshalContent(dplain)
	if err != nil || dc.SenderKey == nil || dc.SenderKey.Epoch != env.Epoch || dc.Text != "" {
		t.Fatalf("distribution content %+v %v", dc, err)
	}
	carol, _ := e2ee.NewReceiverKey(*dc.SenderKey)
	if p, err := carol.Open(env, ad); err != nil || !containsText(p, "hello group") {
		t.Fatalf("carol: %s %v", p, err)
	}
	// Bob's client, as route delivers both.
	g.bs.send(asStored(dist, 1, g.alice))
	g.bs.send(asStored(msg, 2, g.alice))
	m := next[*Message](t, g.b)
	if m.Seq != 2 || m.Content.Text != "hello group" || !m.Verified {
		t.Fatalf("bob got seq %d %q verified %v", m.Seq, m.Content.Text, m.Verified)
	}
	if n, _ := g.b.Unread(convID); n != 1 {
		t.Errorf("bob's unread %d, want 1 (a distribution is no message)", n)
	}
	// A second message: no new distribution, sent at once, the next index.
	if _, err := g.a.Send(ctx, convID, e2ee.Content{Text: "two"}); err != nil {
		t.Fatal(err)
	}
	second := g.as.expect(protocol.TypeSend)
	if e2ee.IsDistributionID(second.ID) || second.Envelope.Epoch != env.Epoch || second.Envelope.Index != env.Index+1 {
		t.Fatalf("second message: %s epoch %d index %d", second.ID, second.Envelope.Epoch, second.Envelope.Index)
	}
}

func containsText(p []byte, s string) bool {
	c, err := e2ee.UnmarshalContent(p)
	return err == nil && c.Text == s
}

// TestGroupRotatesOnRemoval: after a conversation frame of a new
// revision, the next message has a new epoch whose distribution leaves
// the removed member out; what the removed member holds opens none of it.
func TestGroupRotatesOnRemoval(t *testing.T) {
	g := newGroupFixture(t)
	ctx := context.Background()
	if _, err := g.a.Send(ctx, convID, e2ee.Content{Text: "before"}); err != nil {
		t.Fatal(err)
	}
	dist := g.as.expect(protocol.TypeSend)
	g.as.send(protocol.Frame{Type: protocol.TypeStored, ID: dist.ID, Conversation: convID, Seq: 1})
	before := g.as.expect(protocol.TypeSend)
	g.as.send(protocol.Frame{Type: protocol.TypeStored, ID: before.ID, Conversation: convID, Seq: 2})
	dplain, _ := e2ee.Open(dist.Envelope, e2ee.AssociatedData{Conversation: convID, SenderDevice: "a1", ClientMessageID: dist.ID}, "c1", g.carol.key)
	dc, _ := e2ee.UnmarshalContent(dplain)
	carol, _ := e2ee.NewReceiverKey(*dc.SenderKey)

	// Carol is removed: accounts' new revision, and the directory.
	g.dir.set(convID, member(g.alice, g.aliceSK, false), member(g.bob, nil, false), member(g.agent, nil, true))
	g.as.send(protocol.Frame{Type: protocol.TypeConversation, Conversation: convID, Kind: "group", Rev: 2,
		Members: []string{"alice", "bob", "calc"}})
	next[*ConversationChange](t, g.a)

	id, err := g.a.Send(ctx, convID, e2ee.Content{Text: "after"})
	if err != nil {
		t.Fatal(err)
	}
	dist2 := g.as.expect(protocol.TypeSend)
	if !e2ee.IsDistributionID(dist2.ID) || dist2.ID == dist.ID || slices.Contains(dist2.Envelope.Devices(), "c1") {
		t.Fatalf("after the removal: %s for %v; want a new distribution without c1", dist2.ID, dist2.Envelope.Devices())
	}
	g.as.send(protocol.Frame{Type: protocol.TypeStored, ID: dist2.ID, Conversation: convID, Seq: 3})
	after := g.as.expect(protocol.TypeSend)
	if after.ID != id || after.Envelope.Epoch == before.Envelope.Epoch {
		t.Fatalf("the message after the removal is of epoch %d, the one before %d", after.Envelope.Epoch, before.Envelope.Epoch)
	}
	ad := e2ee.AssociatedData{Conversation: convID, SenderDevice: "a1", ClientMessageID: id}
	if _, err := carol.Open(after.Envelope, ad); !errors.Is(err, e2ee.ErrEpoch) {
		t.Fatalf("carol's old chain on the new message: %v, want ErrEpoch", err)
	}
	if _, err := e2ee.Open(dist2.Envelope, e2ee.AssociatedData{Conversation: convID, SenderDevice: "a1", ClientMessageID: dist2.ID}, "c1", g.carol.key); !errors.Is(err, e2ee.ErrNotRecipient) {
		t.Fatalf("carol and the new distribution: %v, want ErrNotRecipient", err)
	}
	// An old revision again (a late frame) changes nothing.
	g.as.send(protocol.Frame{Type: protocol.TypeConversation, Conversation: convID, Kind: "group", Rev: 2,
		Members: []string{"alice", "bob", "calc"}})
	next[*ConversationChange](t, g.a)
	if _, err := g.a.Send(ctx, convID, e2ee.Content{Text: "same epoch"}); err != nil {
		t.Fatal(err)
	}
	if f := g.as.expect(protocol.TypeSend); e2ee.IsDistributionID(f.ID) || f.Envelope.Epoch != after.Envelope.Epoch {
		t.Fatalf("a repeated revision rotated: %s epoch %d", f.ID, f.Envelope.Epoch)
	}
}

// TestGroupOutOfOrderAndRestart: bob reads messages stored in another
// order than their chain indexes, each once; a restarted bob with its
// sender keys saved reads on from where it was.
func TestGroupOutOfOrderAndRestart(t *testing.T) {
	g := newGroupFixture(t)
	ctx := context.Background()
	var sends []protocol.Frame
	for i, text := range []string{"m0", "m1", "m2"} {
		if _, err := g.a.Send(ctx, convID, e2ee.Content{Text: text}); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			d := g.as.expect(protocol.TypeSend)
			sends = append(sends, d)
			g.as.send(protocol.Frame{Type: protocol.TypeStored, ID: d.ID, Conversation: convID, Seq: 1})
		}
		sends = append(sends, g.as.expect(protocol.TypeSend))
	}
	g.b.Close()
	path := filepath.Join(t.TempDir(), "bob.senderkeys")
	fb := newFakeConnector(t, "tok")
	cfg := testConfig(g.bob, g.dir, fb.URL)
	cfg.SenderKeys = FileSenderKeys(path)
	b := dial(t, cfg)
	bs := fb.accept()
	// Stored as m1, m0, m2 (seq 2, 3, 4).
	bs.send(asStored(sends[0], 1, g.alice))
	bs.send(asStored(sends[2], 2, g.alice))
	bs.send(asStored(sends[1], 3, g.alice))
	bs.send(asStored(sends[3], 4, g.alice))
	got := messages(t, b, 3)
	if texts := []string{got[0].Content.Text, got[1].Content.Text, got[2].Content.Text}; !slices.Equal(texts, []string{"m1", "m0", "m2"}) {
		t.Fatalf("bob read %v", texts)
	}
	b.Close()

	// Restarted from its saved state, tracking from seq 4.
	if _, err := g.a.Send(ctx, convID, e2ee.Content{Text: "m3"}); err != nil {
		t.Fatal(err)
	}
	m3 := g.as.expect(protocol.TypeSend)
	fb2 := newFakeConnector(t, "tok")
	cfg.URLs = []string{fb2.URL}
	b2 := dial(t, cfg)
	bs2 := fb2.accept()
	if err := b2.Track(convID, 4); err != nil {
		t.Fatal(err)
	}
	bs2.send(asStored(m3, 5, g.alice))
	if m := next[*Message](t, b2); m.Content.Text != "m3" {
		t.Fatalf("restarted bob read %q", m.Content.Text)
	}
	// Without the saved state, a message of the epoch is unreadable (and
	// says why): the distribution is in the history, before seq 4.
	fb3 := newFakeConnector(t, "tok")
	cfg3 := testConfig(g.bob, g.dir, fb3.URL)
	b3 := dial(t, cfg3)
	bs3 := fb3.accept()
	if err := b3.Track(convID, 4); err != nil {
		t.Fatal(err)
	}
	bs3.send(asStored(m3, 5, g.alice))
	if e := next[*Error](t, b3); e.Code != CodeNoSenderKey {
		t.Fatalf("stateless bob: %s %v", e.Code, e.Err)
	}
}

// TestGroupHistoryPage: scrolling back over group messages this device
// has read already (its chain is past them) opens them with a chain
// started from the page's own distribution; the distribution is no
// message of the page.
func TestGroupHistoryPage(t *testing.T) {
	g := newGroupFixture(t)
	ctx := context.Background()
	var sends []protocol.Frame
	for i, text := range []string{"h0", "h1"} {
		if _, err := g.a.Send(ctx, convID, e2ee.Content{Text: text}); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			d := g.as.expect(protocol.TypeSend)
			sends = append(sends, d)
			g.as.send(protocol.Frame{Type: protocol.TypeStored, ID: d.ID, Conversation: convID, Seq: 1})
		}
		sends = append(sends, g.as.expect(protocol.TypeSend))
	}
	for i, f := range sends { // bob reads them live: his chain moves past them
		g.bs.send(asStored(f, int64(i+1), g.alice))
	}
	messages(t, g.b, 2)
	done := make(chan Page, 1)
	go func() {
		p, err := g.b.History(ctx, convID, 0, 50)
		if err != nil {
			t.Error(err)
		}
		done <- p
	}()
	req := g.bs.expect(protocol.TypeSync)
	var ms []protocol.Frame
	for i, f := range sends {
		ms = append(ms, asStored(f, int64(i+1), g.alice))
	}
	g.bs.send(protocol.Frame{Type: protocol.TypeBatch, ID: req.ID, End: true, Conversation: convID, Messages: ms})
	p := <-done
	if got := seqs(p.Messages); !slices.Equal(got, []int64{2, 3}) || len(p.Errors) != 0 {
		t.Fatalf("page %v, errors %v; want seqs 2, 3 (the distribution at 1 is no message)", got, p.Errors)
	}
	if p.Messages[0].Content.Text != "h0" || p.Messages[1].Content.Text != "h1" {
		t.Errorf("page texts %q %q", p.Messages[0].Content.Text, p.Messages[1].Content.Text)
	}
}
