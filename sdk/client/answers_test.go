package client

import (
	"testing"
	"time"

	"github.com/agentchat/agentchat/sdk/e2ee"
	"github.com/agentchat/agentchat/sdk/protocol"
)

// TestPartialsOnceInOrder: an answer's partials reach the application once
// each and in index order, whatever order and however often they arrive
// (live and replayed after a resume overlap, a broker reorders them); once
// the stored reply is in, what comes of the answer is dropped; and this
// holds across a reconnect.
func TestPartialsOnceInOrder(t *testing.T) {
	alice, agent := newDevice(t, "alice", "a1"), newDevice(t, "bot", "bot-d")
	fc := newFakeConnector(t, "tok")
	c := dial(t, testConfig(alice, nil, fc.URL))
	sc := fc.accept()
	sc.expect(protocol.TypeResume)

	partial := func(replyTo int64, index int, text string) protocol.Frame {
		t.Helper()
		plain, _ := e2ee.Content{Text: text}.Marshal()
		env, err := e2ee.Seal(plain, e2ee.PartialAD(convID, agent.id, replyTo, index), []e2ee.Recipient{alice.recipient()})
		if err != nil {
			t.Fatal(err)
		}
		return protocol.Frame{Type: protocol.TypeAgent, Kind: AgentPartial, Conversation: convID, Agent: "bot",
			Sender: "bot", SenderDevice: agent.id, ReplyTo: replyTo, Index: index, Envelope: env}
	}
	// marker is an agent error about another answer: once it is out, every
	// frame sent before it has been handled.
	markers := int64(100)
	marker := func() {
		t.Helper()
		markers++
		sc.send(protocol.Frame{Type: protocol.TypeAgent, Kind: AgentError, Conversation: convID, Agent: "bot",
			SenderDevice: agent.id, ReplyTo: markers, Code: "marker"})
	}
	// texts returns the partials' texts handed to the application up to the
	// next marker.
	texts := func() []string {
		t.Helper()
		var got []string
		deadline := time.After(waitFor)
		for {
			select {
			case ev := <-c.Events():
				switch e := ev.(type) {
				case *AgentActivity:
					if e.Kind == AgentError && e.Code == "marker" {
						return got
					}
					if e.Kind == AgentPartial {
						if e.ReplyTo != 7 || e.Agent != "bot" {
							t.Fatalf("partial %+v", e)
						}
						got = append(got, e.Content.Text)
					}
				case *Error:
					t.Fatalf("error event: %v", e)
				}
			case <-deadline:
				t.Fatal("no marker")
			}
		}
	}
	expect := func(what string, got []string, want ...string) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%s: got %q, want %q", what, got, want)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("%s: got %q, want %q", what, got, want)
			}
		}
	}

	sc.send(partial(7, 1, "lo"))
	marker()
	expect("ahead of a gap", texts())
	sc.send(partial(7, 0, "Hel"))
	sc.send(partial(7, 1, "lo"))
	marker()
	expect("the gap filled", texts(), "Hel", "lo")

	// A reconnect; the resume's replay brings 0..2 again, live 3 overtakes it.
	sc.closeWith(1001) // going away
	sc = fc.accept()
	sc.expect(protocol.TypeResume)
	sc.send(partial(7, 3, "ld"))
	for i, s := range []string{"Hel", "lo", " wor"} {
		sc.send(partial(7, i, s))
	}
	marker()
	expect("after a reconnect", texts(), " wor", "ld")

	// The stored reply ends the answer: a late or replayed partial is dropped.
	plain, _ := e2ee.Content{Text: "Hello world", ReplyTo: 7}.Marshal()
	id := "r-7"
	env, err := e2ee.Seal(plain, e2ee.AssociatedData{Conversation: convID, SenderDevice: agent.id, ClientMessageID: id},
		[]e2ee.Recipient{alice.recipient()})
	if err != nil {
		t.Fatal(err)
	}
	sc.send(protocol.Frame{Type: protocol.TypeMessage, ID: id, Conversation: convID, Seq: 1, Sender: "bot",
		SenderDevice: agent.id, Envelope: env, StoredAt: time.Now().UTC()})
	if m := next[*Message](t, c); m.Content.Text != "Hello world" {
		t.Fatalf("reply %+v", m)
	}
	sc.send(partial(7, 4, "!"))
	sc.send(partial(7, 0, "Hel"))
	marker()
	expect("after the reply", texts())
}
