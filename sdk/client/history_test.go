package client

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/agentchat/agentchat/sdk/protocol"
)

// History writes a sync with before, hands its page to the caller
// decrypted, in seq order, with more and the oldest seq — and the page
// never enters the conversation's order: no message event, no ack, no
// gap sync, and a late repeat of the answer is dropped too.
func TestHistoryReturnsAPageOutsideTheOrder(t *testing.T) {
	alice, bob := newDevice(t, "alice", "a1"), newDevice(t, "bob", "b1")
	fc := newFakeConnector(t, "tok")
	cfg := testConfig(alice, nil, fc.URL)
	cfg.AutoDeliveredAck = true
	c := dial(t, cfg)
	sc := fc.accept()

	type result struct {
		p   Page
		err error
	}
	done := make(chan result, 1)
	go func() {
		p, err := c.History(context.Background(), convID, 61, 50)
		done <- result{p, err}
	}()
	req := sc.expect(protocol.TypeSync)
	if req.Before != 61 || req.Limit != 50 || req.After != 0 || req.Receipts || req.ID == "" {
		t.Fatalf("request %+v, want a page before 61 of 50 with an id", req)
	}
	ms := []protocol.Frame{
		message(t, convID, 11, bob, "eleven", alice),
		message(t, convID, 12, bob, "twelve", alice),
		message(t, convID, 13, bob, "thirteen", bob), // not sealed for alice
	}
	answer := protocol.Frame{Type: protocol.TypeBatch, ID: req.ID, End: true, Conversation: convID, Messages: ms, More: true}
	sc.send(answer)
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	if got := seqs(r.p.Messages); !slices.Equal(got, []int64{11, 12}) || r.p.Messages[1].Content.Text != "twelve" {
		t.Errorf("page %v, want 11, 12 with their text", got)
	}
	if len(r.p.Errors) != 1 || r.p.Errors[0].Seq != 13 || r.p.Errors[0].Code != CodeNotRecipient {
		t.Errorf("errors %+v, want seq 13 not for this device", r.p.Errors)
	}
	if !r.p.More || r.p.Oldest != 11 {
		t.Errorf("more %v oldest %d, want true, 11", r.p.More, r.p.Oldest)
	}
	sc.send(answer) // late repeat: nobody waits for it
	for _, ev := range handled(t, c, sc) {
		if m, ok := ev.(*Message); ok {
			t.Errorf("a page's message reached the order: %+v", m)
		}
	}
	fs := written(t, c, sc)
	noneOf(t, fs, protocol.TypeDelivered, "a page is not acked")
	noneOf(t, fs, protocol.TypeSync, "a page is no gap")
}

// A refusal of the request is its caller's error; beforeSeq 0 asks for the
// newest page.
func TestHistoryRefused(t *testing.T) {
	alice := newDevice(t, "alice", "a1")
	fc := newFakeConnector(t, "tok")
	c := dial(t, testConfig(alice, nil, fc.URL))
	sc := fc.accept()
	done := make(chan error, 1)
	go func() {
		_, err := c.History(context.Background(), convID, 0, 0)
		done <- err
	}()
	req := sc.expect(protocol.TypeSync)
	if req.Before <= 1<<62 {
		t.Errorf("before %d, want past any seq", req.Before)
	}
	sc.send(protocol.Frame{Type: protocol.TypeError, ID: req.ID, Conversation: convID, Code: protocol.CodeNotMember, Message: "no"})
	var perr *protocol.Error
	if err := <-done; !errors.As(err, &perr) || perr.Code != protocol.CodeNotMember {
		t.Errorf("error %v, want not_member", err)
	}
	if _, err := c.History(context.Background(), "bad id", 5, 0); err == nil {
		t.Error("a bad conversation id was accepted")
	}
}

// Config.Tracked: the first resume already names a conversation at the
// seq the application's store has.
func TestTrackedBeforeTheFirstResume(t *testing.T) {
	alice := newDevice(t, "alice", "a1")
	fc := newFakeConnector(t, "tok")
	cfg := testConfig(alice, nil, fc.URL)
	cfg.Tracked = map[string]int64{convID: 42}
	c := dial(t, cfg)
	sc := fc.accept()
	r := sc.expect(protocol.TypeResume)
	if len(r.Positions) != 1 || r.Positions[0].Conversation != convID || r.Positions[0].Seq != 42 {
		t.Fatalf("first resume %+v, want %s at 42", r.Positions, convID)
	}
	if got, err := c.LastSeq(convID); err != nil || got != 42 {
		t.Errorf("LastSeq %d (%v), want 42", got, err)
	}
}
