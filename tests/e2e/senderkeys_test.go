package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/agentchat/agentchat/internal/testenv"
	"github.com/agentchat/agentchat/sdk/client"
	"github.com/agentchat/agentchat/sdk/e2ee"
	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/protocol"
	"github.com/agentchat/agentchat/store/directory"
	"github.com/agentchat/agentchat/store/messages"
)

// TestGroupOf1024SenderKeys is issue 11's must-show for sender keys: a
// group of 1,024 members — the calculator agent, 7 people who connect
// (alice with two devices, eve among them), and 1,016 people who never do
// (a registered device each, as a phone that is off) — through the whole
// platform. In two rounds three members send, and the agent answers each:
//   - every online device (alice's two, bob, carol, eve in round one,
//     frank and grace who only read) is shown every message exactly once,
//     in seq order, verified, and no message it cannot open;
//   - each person's message is stored as one ciphertext (v2) with the
//     agent's key only; its sender key went out once, as a distribution,
//     which each device got with its own key only;
//   - eve is removed between the rounds: every sender starts a new epoch,
//     eve is delivered nothing of round two, and what she holds — her
//     device key and the sender keys her client saved — opens none of
//     the messages stored after the removal (the test tries each);
//   - what a device reads for one message of 100 bytes of text is under
//     2 KiB whatever the group's size, and the canary scan finds none of
//     the text anywhere (MongoDB, Redis keys and publishes, logs).
func TestGroupOf1024SenderKeys(t *testing.T) {
	const members, rounds, perSender = 1024, 2, 4
	const directoryTTL = 3 * time.Second
	ap := startAgents(t, nil)
	e := ap.env
	tap := tapRedis(t, e)
	marker := newMarker("senderkeys")
	ctx := context.Background()

	// The people who connect sign up and sign; alice has a second device.
	online := map[string]*signer{}
	for _, n := range []string{"alice", "bob", "carol", "eve", "frank", "grace"} {
		online[n] = signedSignup(t, e, n)
	}
	alice2 := signedSecondDevice(t, e, online["alice"])
	// The rest are seeded as accounts stores them (a user and a device
	// with a real key), which is all a sender seals for.
	start := time.Now()
	offline := seedPeople(t, e, members-len(online)-1)
	ids := []string{"calc"}
	for _, s := range online {
		ids = append(ids, s.id)
	}
	ids = append(ids, offline...)
	conv, err := online["alice"].sess.CreateConversation(ctx, "group", ids, "a thousand and twenty-four")
	if err != nil {
		t.Fatal(err)
	}
	if len(conv.Members) != members {
		t.Fatalf("the group has %d members, want %d", len(conv.Members), members)
	}
	t.Logf("%d members (%d seeded) and the group in %s", members, len(offline), time.Since(start).Round(time.Millisecond))

	// Every online device: eve's client saves its sender keys (what she
	// holds, tried at the end).
	eveState := filepath.Join(t.TempDir(), "eve.senderkeys")
	devices := map[string]*watcher{}
	clients := map[string]*client.Client{}
	for n, s := range online {
		cfg := client.Config{URLs: e.p.ConnectorURLs(), Token: s.sess.Token, User: s.id, Device: s.sess.DeviceID(), Key: s.key,
			SigningKey: s.signing, Directory: s.sess, AutoDeliveredAck: true, EventBuffer: 8192, DirectoryTTL: directoryTTL}
		if n == "eve" {
			cfg.SenderKeys = client.FileSenderKeys(eveState)
		}
		clients[n] = dialConfig(t, cfg)
		devices[n] = watch(clients[n])
	}
	clients["alice2"] = dialConfig(t, client.Config{URLs: e.p.ConnectorURLs(), Token: alice2.sess.Token, User: alice2.id,
		Device: alice2.sess.DeviceID(), Key: alice2.key, SigningKey: alice2.signing, Directory: alice2.sess, AutoDeliveredAck: true, EventBuffer: 8192})
	devices["alice2"] = watch(clients["alice2"])
	for _, c := range clients {
		if err := c.Track(conv.ID, 0); err != nil {
			t.Fatal(err)
		}
	}

	senders := []string{"alice", "bob", "carol"}
	var removedAt int64
	for round := 1; round <= rounds; round++ {
		if round == 2 {
			// Eve is removed. A sender learns it from the conversation
			// frame or the membership entry stored in the conversation,
			// or, should both be late, from its key directory, refreshed
			// every DirectoryTTL (the backstop docs/e2ee.md names; on a
			// loaded machine route's read of 1,024 members' devices for
			// the frame has timed out and been dead-lettered): wait for
			// any of them.
			if err := online["alice"].sess.RemoveMember(ctx, conv.ID, online["eve"].id); err != nil {
				t.Fatal(err)
			}
			removedAt = lastSeq(t, e, conv.ID)
			testenv.Eventually(t, 30*time.Second, 50*time.Millisecond, func() bool {
				ds, err := online["bob"].sess.ConversationDeviceList(ctx, conv.ID)
				return err == nil && !slices.ContainsFunc(ds, func(d client.Device) bool { return d.DeviceID == online["eve"].sess.DeviceID() })
			}, "the key directory without eve")
			gone := time.Now()
			for _, n := range senders {
				w := devices[n]
				testenv.Eventually(t, 30*time.Second, 20*time.Millisecond, func() bool {
					return w.revision(conv.ID) >= 2 || time.Since(gone) > directoryTTL+time.Second
				}, "%s hears of the removal or refreshes its directory", n)
				t.Logf("%s heard of the removal (a conversation frame or its entry): %v", n, w.revision(conv.ID) >= 2)
			}
		}
		var wg sync.WaitGroup
		for _, n := range senders {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range perSender {
					// 100 bytes of text, the marker in it.
					text := fmt.Sprintf("round %d %s %d %s ", round, n, i, marker)
					text += strings.Repeat(".", 100-len(text))
					if _, err := clients[n].Send(ctx, conv.ID, e2ee.Content{Text: text}); err != nil {
						t.Errorf("%s sends: %v", n, err)
					}
				}
			}()
		}
		wg.Wait()
		// Each person's message is answered by the agent.
		want := len(senders) * perSender * round * 2
		testenv.Eventually(t, 3*time.Minute, 100*time.Millisecond, func() bool { return len(shownSeqs(t, e, conv.ID)) >= want },
			"round %d: %d messages and replies stored", round, want)
	}
	stored := shownSeqs(t, e, conv.ID)
	if len(stored) != rounds*len(senders)*perSender*2 {
		t.Fatalf("%d messages stored, want %d (each person's answered once)", len(stored), rounds*len(senders)*perSender*2)
	}

	// Every device still in the group: every message once, in order,
	// verified; eve: round one alike, nothing after her removal.
	for n, w := range devices {
		want := stored
		if n == "eve" {
			want = slices.DeleteFunc(slices.Clone(stored), func(s int64) bool { return s > removedAt })
		}
		testenv.Eventually(t, 2*time.Minute, 50*time.Millisecond, func() bool { return len(w.shown(conv.ID)) >= len(want) },
			"%s is shown %d messages", n, len(want))
		got := w.shown(conv.ID)
		if !slices.Equal(seqsOf(got), want) {
			t.Errorf("%s was shown seqs %v, want %v", n, seqsOf(got), want)
		}
		for _, m := range got {
			if !m.Verified || (!strings.Contains(m.Content.Text, marker) && m.Sender != "calc") {
				t.Errorf("%s: seq %d from %s verified %v: %.40q", n, m.Seq, m.Sender, m.Verified, m.Content.Text)
			}
		}
		if errs := w.errors(conv.ID); len(errs) > 0 {
			t.Errorf("%s could not open %d messages, first: %v", n, len(errs), errs[0])
		}
	}

	// What is stored: people's messages sealed once, keys for the agent
	// only; each sender key distributed once per epoch; a new epoch for
	// every sender after the removal, its distribution without eve.
	eveDevice := online["eve"].sess.DeviceID()
	var agentDevice string
	list, err := online["alice"].sess.ConversationDeviceList(ctx, conv.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range list {
		if d.Agent {
			agentDevice = d.DeviceID
		}
	}
	epochs := map[string][]uint32{}                                 // sender device → epochs, in order
	epochBefore, epochAfter := map[uint32]bool{}, map[uint32]bool{} // epochs of person messages before and after the removal
	docs := storedMessages(t, e, conv.ID)
	for _, m := range docs {
		env := m.Envelope
		switch {
		case m.System != nil: // a membership entry: no envelope
		case e2ee.IsDistributionID(m.ClientMessageID):
			if env.V != e2ee.Version || len(env.Keys) < members {
				t.Errorf("distribution %s: v%d for %d devices", m.ClientMessageID, env.V, len(env.Keys))
			}
			if slices.Contains(env.Devices(), eveDevice) == (m.Seq > removedAt) {
				t.Errorf("distribution at seq %d (removal at %d) names eve's device: %v", m.Seq, removedAt, m.Seq <= removedAt)
			}
		case m.SenderID == "calc":
			if env.V != e2ee.Version2 || len(env.Keys) < members {
				t.Errorf("the agent's reply at seq %d: v%d, %d keys", m.Seq, env.V, len(env.Keys))
			}
		default:
			if env.V != e2ee.Version2 || len(env.Keys) != 1 || env.Keys[0].Device != agentDevice {
				t.Errorf("message at seq %d: v%d, keys %v; want v2 with the agent's key only", m.Seq, env.V, env.Devices())
			}
			if !slices.Contains(epochs[m.SenderDevice], env.Epoch) {
				epochs[m.SenderDevice] = append(epochs[m.SenderDevice], env.Epoch)
			}
			if m.Seq > removedAt {
				epochAfter[env.Epoch] = true
			} else {
				epochBefore[env.Epoch] = true
			}
		}
	}
	// Every sender started a new epoch after the removal, and no epoch
	// spans it. (A sender may rotate more than once around a removal: its
	// conversation frame, the membership entry and its directory each tell
	// it, in whatever order they arrive.)
	for _, n := range senders {
		if got := epochs[online[n].sess.DeviceID()]; len(got) < 2 {
			t.Errorf("%s used epochs %v, want a new one after the removal", n, got)
		}
	}
	for e := range epochAfter {
		if epochBefore[e] {
			t.Errorf("epoch %d was used both before and after eve's removal", e)
		}
	}

	// Eve tries everything stored after her removal with what she holds.
	held := eveKeys(t, eveState)
	if len(held) < len(senders) {
		t.Fatalf("eve's client saved %d sender keys, want at least %d", len(held), len(senders))
	}
	tried, after := 0, 0
	for _, m := range docs {
		if m.Seq <= removedAt || m.System != nil {
			continue
		}
		after++
		ad := e2ee.AssociatedData{Conversation: conv.ID, SenderDevice: m.SenderDevice, ClientMessageID: m.ClientMessageID}
		if _, err := e2ee.Open(m.Envelope, ad, eveDevice, online["eve"].key); !errors.Is(err, e2ee.ErrNotRecipient) {
			t.Errorf("eve's device key on seq %d: %v, want ErrNotRecipient", m.Seq, err)
		}
		tried++
		if m.Envelope.V != e2ee.Version2 {
			continue
		}
		for _, k := range held {
			c := *k
			c.Chain = slices.Clone(k.Chain)
			if p, err := c.Open(m.Envelope, ad); err == nil {
				t.Errorf("eve's sender key (epoch %d) opens seq %d: %.40q", k.Epoch, m.Seq, p)
			}
			// Her chain moved on to the message's index, under its epoch:
			// another epoch's key yields no message key for it.
			c2 := *k
			c2.Chain, c2.Epoch = slices.Clone(k.Chain), m.Envelope.Epoch
			if _, err := c2.Open(m.Envelope, ad); err == nil {
				t.Errorf("eve's chain (epoch %d) relabelled opens seq %d", k.Epoch, m.Seq)
			}
			tried += 2
		}
	}
	if tried == 0 {
		t.Fatal("nothing was stored after eve's removal")
	}
	t.Logf("eve: %d sender keys held, %d attempts on %d messages after her removal, none opened", len(held), tried, after)

	// One delivery of a 100-byte text, as the connector writes it to
	// frank's socket: the stored envelope, without the agent's wrapped key
	// (each device gets its own key only; a person's device has none).
	for _, m := range slices.Backward(docs) {
		if m.SenderID != "calc" && !e2ee.IsDistributionID(m.ClientMessageID) {
			env := *m.Envelope
			env.Keys = nil
			frame, _ := json.Marshal(protocol.Frame{Type: protocol.TypeMessage, ID: m.ClientMessageID, Conversation: conv.ID, Seq: m.Seq,
				Sender: m.SenderID, SenderDevice: m.SenderDevice, Envelope: &env, StoredAt: m.StoredAt})
			t.Logf("a 100-byte text in a group of %d: one delivery is a %d-byte message frame: %s", members, len(frame), frame)
			if len(frame) > 2048 {
				t.Errorf("a delivery of a 100-byte text is %d bytes, over 2 KiB", len(frame))
			}
			break
		}
	}

	found := scanSinks(t, e, tap, marker)
	t.Logf("canary scan: %s", found)
	for _, h := range found.hits {
		t.Errorf("plaintext found: %s", h)
	}
}

// signedSecondDevice logs s in again on a new device with a signing key
// of its own.
func signedSecondDevice(t *testing.T, e *env, s *signer) *signer {
	t.Helper()
	p := secondDevice(t, e, s.person)
	k, _ := e2ee.GenerateSigningKey()
	if err := p.sess.SetSigningKey(context.Background(), p.sess.DeviceID(), s.id, p.key.PublicKeyBytes(), k); err != nil {
		t.Fatal(err)
	}
	return &signer{person: p, signing: k}
}

func dialConfig(t *testing.T, cfg client.Config) *client.Client {
	t.Helper()
	c, err := client.Dial(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// seedPeople stores n people with one device each (a real X25519 key) in
// the directory, as accounts does at sign-up and login, 8 at a time.
func seedPeople(t *testing.T, e *env, n int) []string {
	t.Helper()
	dir := directory.NewMongoDB(e.mongo)
	ids := make([]string, n)
	errs := make(chan error, n)
	sem := make(chan struct{}, 8)
	run := newMarker("sk")
	for i := range n {
		go func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			k, err := e2ee.GenerateKey()
			if err != nil {
				errs <- err
				return
			}
			id := fmt.Sprintf("u-%s-%04d", run, i)
			now := time.Now().UTC()
			if err := dir.InsertUser(context.Background(), directory.User{ID: id, Kind: directory.KindUser, Username: id, Name: id, CreatedAt: now}); err != nil {
				errs <- err
				return
			}
			errs <- dir.InsertDevice(context.Background(), directory.Device{ID: "dv-" + id, User: id,
				PublicKey: base64.StdEncoding.EncodeToString(k.PublicKeyBytes()), CreatedAt: now})
			ids[i] = id
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	return ids
}

// storedMessages reads conv's stored messages in seq order.
func storedMessages(t *testing.T, e *env, conv string) []events.Message {
	t.Helper()
	ms, err := messages.NewMongoDB(context.Background(), e.mongo)
	if err != nil {
		t.Fatal(err)
	}
	var out []events.Message
	for after := int64(0); ; {
		page, err := ms.After(context.Background(), conv, after, 500, messages.AllDevices)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			return out
		}
		out = append(out, page...)
		after = page[len(page)-1].Seq
	}
}

// shownSeqs is the seqs of conv's stored messages a device shows as
// messages (not sender key distributions, not membership entries).
func shownSeqs(t *testing.T, e *env, conv string) []int64 {
	t.Helper()
	cur, err := e.mongo.Collection("messages").Find(context.Background(), bson.D{{Key: "conversation", Value: conv}})
	if err != nil {
		t.Fatal(err)
	}
	var docs []struct {
		Seq    int64    `bson:"seq"`
		ID     string   `bson:"clientMessageId"`
		System bson.Raw `bson:"system"`
	}
	if err := cur.All(context.Background(), &docs); err != nil {
		t.Fatal(err)
	}
	var out []int64
	for _, d := range docs {
		if !e2ee.IsDistributionID(d.ID) && d.System == nil { // neither a sender key nor a membership entry
			out = append(out, d.Seq)
		}
	}
	slices.Sort(out)
	return out
}

func lastSeq(t *testing.T, e *env, conv string) int64 {
	t.Helper()
	seqs := e.storedSeqs(t, conv)
	if len(seqs) == 0 {
		return 0
	}
	return seqs[len(seqs)-1]
}

// eveKeys reads the sender keys a client saved (client.FileSenderKeys):
// every chain it holds.
func eveKeys(t *testing.T, path string) []*e2ee.ReceiverKey {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Peers map[string]struct {
			Key *e2ee.ReceiverKey `json:"key"`
		} `json:"peers"`
	}
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	var out []*e2ee.ReceiverKey
	for _, p := range st.Peers {
		out = append(out, p.Key)
	}
	return out
}

func seqsOf(ms []*client.Message) []int64 {
	out := make([]int64, len(ms))
	for i, m := range ms {
		out[i] = m.Seq
	}
	return out
}

// shown is every message of conv the device was shown, in order.
func (w *watcher) shown(conv string) []*client.Message {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []*client.Message
	for _, ev := range w.evs {
		if m, ok := ev.(*client.Message); ok && m.Conversation == conv {
			out = append(out, m)
		}
	}
	return out
}

// errors is every message of conv the device could not open.
func (w *watcher) errors(conv string) []*client.Error {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []*client.Error
	for _, ev := range w.evs {
		if e, ok := ev.(*client.Error); ok && e.Conversation == conv && e.Seq > 0 {
			out = append(out, e)
		}
	}
	return out
}

// revision is the newest membership revision of conv the device heard of
// (a conversation frame, or the membership entry in the conversation).
func (w *watcher) revision(conv string) int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	var rev int64
	for _, ev := range w.evs {
		if c, ok := ev.(*client.ConversationChange); ok && c.ID == conv {
			rev = max(rev, c.Rev)
		}
		if m, ok := ev.(*client.MemberEntry); ok && m.Conversation == conv {
			rev = max(rev, m.Change.Rev)
		}
	}
	return rev
}
