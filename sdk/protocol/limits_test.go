package protocol_test

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"testing"
	"time"

	"github.com/agentchat/agentchat/sdk/e2ee"
	"github.com/agentchat/agentchat/sdk/protocol"
)

// MaxFrameSize holds the largest envelope there can be: the largest
// content sealed for the most devices a v1 envelope may name
// (e2ee.MaxRecipients: a group of 1,024 members with two devices each), with ids
// shaped as accounts makes them, signed by the sender (docs/e2ee.md,
// "Signed messages") — as a client's send frame and as the message frame
// every member device receives.
func TestLargestEnvelopeFits(t *testing.T) {
	id := func(prefix string) string {
		b := make([]byte, 12)
		_, _ = rand.Read(b)
		return prefix + hex.EncodeToString(b)
	}
	rs := make([]e2ee.Recipient, e2ee.MaxRecipients)
	for i := range rs {
		k, err := e2ee.GenerateKey()
		if err != nil {
			t.Fatal(err)
		}
		rs[i] = e2ee.Recipient{Device: id("dv-"), PublicKey: k.PublicKey()}
	}
	conv, msgID := id("g-"), id("")+id("")[:8]
	env, err := e2ee.Seal(make([]byte, e2ee.MaxContent), e2ee.AssociatedData{
		Conversation: conv, SenderDevice: rs[0].Device, ClientMessageID: msgID}, rs)
	if err != nil {
		t.Fatal(err)
	}
	sk, err := e2ee.GenerateSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	e2ee.SignEnvelope(env, conv, rs[0].Device, sk)
	send, err := json.Marshal(protocol.Frame{Type: protocol.TypeSend, ID: msgID, Conversation: conv, Envelope: env})
	if err != nil {
		t.Fatal(err)
	}
	if len(send) > protocol.MaxFrameSize {
		t.Fatalf("the largest send frame is %d bytes, over MaxFrameSize (%d)", len(send), protocol.MaxFrameSize)
	}
	if _, err := protocol.Decode(send); err != nil {
		t.Fatalf("the largest send frame is refused: %v", err)
	}
	msg, err := json.Marshal(protocol.Frame{Type: protocol.TypeMessage, ID: msgID, Conversation: conv, Seq: 1 << 40,
		Sender: id("u-"), SenderDevice: rs[0].Device, Envelope: env, StoredAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if len(msg) > protocol.MaxFrameSize {
		t.Fatalf("the largest message frame is %d bytes, over MaxFrameSize (%d)", len(msg), protocol.MaxFrameSize)
	}
	t.Logf("largest send frame %d bytes, message frame %d bytes, MaxFrameSize %d", len(send), len(msg), protocol.MaxFrameSize)
}
