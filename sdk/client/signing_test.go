package client

import (
	"context"
	"testing"

	"github.com/agentchat/agentchat/sdk/e2ee"
	"github.com/agentchat/agentchat/sdk/protocol"
)

// TestSendSigns: with a signing key, every envelope sent carries a
// signature that verifies for its conversation and the sending device.
func TestSendSigns(t *testing.T) {
	alice, bob := newDevice(t, "alice", "a1"), newDevice(t, "bob", "b1")
	sk := mustSigningKey(t)
	dir := &mapDirectory{}
	dir.set(convID, alice.recipient(), bob.recipient())
	fc := newFakeConnector(t, "tok")
	cfg := testConfig(alice, dir, fc.URL)
	cfg.SigningKey = sk
	c := dial(t, cfg)
	sc := fc.accept()
	if _, err := c.Send(context.Background(), convID, e2ee.Content{Text: "signed"}); err != nil {
		t.Fatal(err)
	}
	f := sc.expect(protocol.TypeSend)
	if err := e2ee.VerifyEnvelope(f.Envelope, convID, alice.id, sk.PublicKeyBytes()); err != nil {
		t.Fatalf("the sent envelope does not verify: %v", err)
	}
}

// TestReceivedMessagesVerified: a message signed by its sender device's
// key (as the directory lists it) is Verified; one that is unsigned,
// signed by another key, claims a device the directory does not list, or
// comes from a device without a key is delivered, readable, but not
// Verified.
func TestReceivedMessagesVerified(t *testing.T) {
	alice, bob, old := newDevice(t, "alice", "a1"), newDevice(t, "bob", "b1"), newDevice(t, "carol", "c1")
	bobKey, mallory := mustSigningKey(t), mustSigningKey(t)
	bobR := bob.recipient()
	bobR.SigningKey = bobKey.PublicKeyBytes()
	dir := &mapDirectory{}
	dir.set(convID, alice.recipient(), bobR, old.recipient()) // carol's device has no signing key
	fc := newFakeConnector(t, "tok")
	c := dial(t, testConfig(alice, dir, fc.URL))
	sc := fc.accept()

	signed := func(f protocol.Frame, k *e2ee.SigningKey) protocol.Frame {
		e2ee.SignEnvelope(f.Envelope, f.Conversation, f.SenderDevice, k)
		return f
	}
	ghost := newDevice(t, "bob", "b-ghost") // a device bob does not have
	cases := []struct {
		f    protocol.Frame
		want bool
		why  string
	}{
		{signed(message(t, convID, 1, bob, "genuine", alice), bobKey), true, "signed by bob's device key"},
		{message(t, convID, 2, bob, "unsigned", alice), false, "unsigned"},
		{signed(message(t, convID, 3, bob, "forged", alice), mallory), false, "signed by another key"},
		{signed(message(t, convID, 4, ghost, "ghost", alice), mallory), false, "a device the directory does not list"},
		{signed(message(t, convID, 5, old, "old client", alice), mallory), false, "a device without a signing key"},
		{signed(message(t, convID, 6, bob, "genuine again", alice), bobKey), true, "signed by bob's device key"},
	}
	// A forger moving bob's genuine signature to another sender device.
	moved := message(t, convID, 7, old, "moved", alice)
	moved.Envelope.Sig = cases[0].f.Envelope.Sig
	cases = append(cases, struct {
		f    protocol.Frame
		want bool
		why  string
	}{moved, false, "bob's signature under carol's device"})
	for _, tc := range cases {
		sc.send(tc.f)
	}
	ms := messages(t, c, len(cases))
	for i, tc := range cases {
		if ms[i].Content.Text == "" || ms[i].Seq != tc.f.Seq {
			t.Fatalf("message %d = %+v, want it delivered and readable", tc.f.Seq, ms[i])
		}
		if ms[i].Verified != tc.want {
			t.Errorf("%s (%q): Verified = %v, want %v", tc.why, ms[i].Content.Text, ms[i].Verified, tc.want)
		}
	}
	// The made-up device made the client ask accounts again, once.
	dir.mu.Lock()
	lookups := dir.lookups
	dir.mu.Unlock()
	if lookups < 1 || lookups > 2 {
		t.Errorf("directory lookups %d, want 1 or 2 (a refresh for an unknown device at most once per %v)", lookups, minKeyRefresh)
	}
}

func mustSigningKey(t *testing.T) *e2ee.SigningKey {
	t.Helper()
	k, err := e2ee.GenerateSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}
