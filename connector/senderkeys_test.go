package connector

import (
	"testing"

	"github.com/agentchat/agentchat/sdk/e2ee"
	"github.com/agentchat/agentchat/sdk/protocol"
)

func wrappedFor(devices ...string) *e2ee.Envelope {
	env := &e2ee.Envelope{V: e2ee.Version, Nonce: make([]byte, 12), Ciphertext: make([]byte, 272)}
	for _, d := range devices {
		env.Keys = append(env.Keys, e2ee.WrappedKey{Device: d, Ephemeral: make([]byte, 32), Nonce: make([]byte, 12), Wrapped: make([]byte, 48)})
	}
	return env
}

// TestDistributionsCarryOneKey: a sender key distribution reaches each
// device with its own wrapped key alone — live, in a sync batch and in a
// resume answer — and the frame it came in is not changed for the next
// device; any other message is shared as it is.
func TestDistributionsCarryOneKey(t *testing.T) {
	dist := protocol.Frame{Type: protocol.TypeMessage, ID: e2ee.DistributionID(0xabcdef01), Conversation: "g", Seq: 3,
		Envelope: wrappedFor("d1", "d2", "d3")}
	plain := protocol.Frame{Type: protocol.TypeMessage, ID: "m-1", Conversation: "g", Seq: 4, Envelope: wrappedFor("d1", "d2", "d3")}
	v2 := protocol.Frame{Type: protocol.TypeMessage, ID: e2ee.DistributionID(7), Conversation: "g", Seq: 5,
		Envelope: &e2ee.Envelope{V: e2ee.Version2, Epoch: 7, Nonce: make([]byte, 12), Ciphertext: make([]byte, 272)}}

	got, ok := forDevice(dist, "d2")
	if !ok || len(got.Envelope.Keys) != 1 || got.Envelope.Keys[0].Device != "d2" {
		t.Fatalf("live distribution for d2: %v %+v", ok, got.Envelope.Devices())
	}
	if len(dist.Envelope.Keys) != 3 {
		t.Fatal("the shared frame was changed")
	}
	if got, _ := forDevice(dist, "d9"); len(got.Envelope.Keys) != 0 {
		t.Errorf("a device it was not sealed for gets %v", got.Envelope.Devices())
	}
	for _, f := range []protocol.Frame{plain, v2} {
		if _, ok := forDevice(f, "d2"); ok {
			t.Errorf("%s is not a distribution but was rendered per device", f.ID)
		}
	}
	// What an agent seals once for everyone (v2 with every device's key),
	// as a message and as a partial: its own key only, the signature
	// still valid (v2 signs no key list).
	keyed := wrappedFor("d1", "d2", "d3")
	keyed.V, keyed.Epoch = e2ee.Version2, 9
	sk, _ := e2ee.GenerateSigningKey()
	e2ee.SignEnvelope(keyed, "g", "agent-d", sk)
	for _, f := range []protocol.Frame{
		{Type: protocol.TypeMessage, ID: "r-4", Conversation: "g", Seq: 6, SenderDevice: "agent-d", Envelope: keyed},
		{Type: protocol.TypeAgent, Kind: "partial", Conversation: "g", SenderDevice: "agent-d", Envelope: keyed},
	} {
		got, ok := forDevice(f, "d1")
		if !ok || len(got.Envelope.Keys) != 1 || got.Envelope.Keys[0].Device != "d1" {
			t.Fatalf("%s frame of an agent for d1: %v %v", f.Type, ok, got.Envelope.Devices())
		}
		if err := e2ee.VerifyEnvelope(got.Envelope, "g", "agent-d", sk.PublicKeyBytes()); err != nil {
			t.Errorf("%s frame of an agent, d1's key only, does not verify: %v", f.Type, err)
		}
	}
	if len(keyed.Keys) != 3 {
		t.Fatal("the shared envelope was changed")
	}
	batch := protocol.Frame{Type: protocol.TypeBatch, Conversation: "g", Messages: []protocol.Frame{plain, dist}}
	got, ok = forDevice(batch, "d3")
	if !ok || len(got.Messages[0].Envelope.Keys) != 3 || got.Messages[1].Envelope.Devices()[0] != "d3" || len(got.Messages[1].Envelope.Keys) != 1 {
		t.Fatalf("batch for d3: %v", ok)
	}
	if len(batch.Messages[1].Envelope.Keys) != 3 {
		t.Fatal("the shared batch was changed")
	}
	resumed := protocol.Frame{Type: protocol.TypeResumed, Batches: []protocol.Frame{{Conversation: "h", Messages: []protocol.Frame{plain}}, {Conversation: "g", Messages: []protocol.Frame{dist}}}}
	got, ok = forDevice(resumed, "d1")
	if !ok || len(got.Batches[1].Messages[0].Envelope.Keys) != 1 || len(got.Batches[0].Messages[0].Envelope.Keys) != 3 {
		t.Fatalf("resume answer for d1: %v", ok)
	}
	if len(resumed.Batches[1].Messages[0].Envelope.Keys) != 3 {
		t.Fatal("the shared resume answer was changed")
	}
}
