package e2e

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/agentchat/agentchat/sdk/protocol"
)

// A receipt is checked against what is stored before anyone sees it: a
// read receipt beyond the conversation's last message gets bad_seq back,
// moves no cursor and reaches no other device; the next valid one does.
func TestReceiptBeyondTheLastSeqIsRefused(t *testing.T) {
	e := start(t, opts{connectors: 1, functions: spineFunctions})
	ctx := context.Background()
	alice, bob := signup(t, e, "alice"), signup(t, e, "bob")
	conv, err := alice.sess.CreateConversation(ctx, "direct", []string{alice.id, bob.id}, "")
	if err != nil {
		t.Fatal(err)
	}
	url := e.p.ConnectorURLs()[0]
	dial := func(u *person) *websocket.Conn {
		tok, err := u.sess.Token(ctx)
		if err != nil {
			t.Fatal(err)
		}
		ws, _, err := dialRaw(url, tok)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ws.Close() })
		expectFrame(t, ws, "hello")
		return ws
	}
	wa, wb := dial(alice), dial(bob)

	wa.WriteJSON(map[string]any{"type": "send", "id": "m-1", "conversation": conv.ID, "envelope": sealFor(t, ctx, alice, conv.ID, "m-1")})
	if f := expectFrame(t, wa, protocol.TypeStored); f.Seq != 1 {
		t.Fatalf("stored %+v, want seq 1", f)
	}
	expectFrame(t, wb, protocol.TypeMessage)

	const bogus = 1_000_000
	wb.WriteJSON(map[string]any{"type": "read", "conversation": conv.ID, "seq": bogus})
	if f := expectError(t, wb, protocol.CodeBadSeq); f.Conversation != conv.ID {
		t.Errorf("bad_seq for conversation %q, want %q", f.Conversation, conv.ID)
	}
	// The barrier: a valid receipt sent after the bogus one was answered.
	// Alice sees exactly it: the bogus one was never fanned out.
	wb.WriteJSON(map[string]any{"type": "read", "conversation": conv.ID, "seq": 1})
	wa.SetReadDeadline(time.Now().Add(15 * time.Second))
	for {
		_, data, err := wa.ReadMessage()
		if err != nil {
			t.Fatalf("waiting for bob's read receipt: %v", err)
		}
		var f protocol.Frame
		if err := json.Unmarshal(data, &f); err != nil {
			t.Fatal(err)
		}
		if f.Type != protocol.TypeReceipt {
			continue
		}
		if f.Seq != 1 || f.Kind != "read" || f.Sender != bob.id {
			t.Fatalf("alice got receipt %+v, want only bob's read of seq 1", f)
		}
		break
	}
	var cur struct {
		Delivered int64 `bson:"delivered"`
		Read      int64 `bson:"read"`
	}
	if err := e.mongo.Collection("cursors").FindOne(ctx, bson.M{"_id": conv.ID + "/" + bob.id}).Decode(&cur); err != nil {
		t.Fatal(err)
	}
	if cur.Read != 1 || cur.Delivered != 1 {
		t.Errorf("bob's cursor delivered %d, read %d; want 1, 1", cur.Delivered, cur.Read)
	}
}
