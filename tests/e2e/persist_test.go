package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"sync"
	"testing"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/event"
	ceprotocol "github.com/cloudevents/sdk-go/v2/protocol/http"

	"github.com/agentchat/agentchat/internal/funcrunner"
	"github.com/agentchat/agentchat/sdk/e2ee"
	"github.com/agentchat/agentchat/sdk/events"
)

// Four persist processes store into one conversation at once: seqs 1..N,
// no gap, no duplicate — on FerretDB, which does not apply concurrent
// updates atomically.
func TestFourPersistProcessesOneConversation(t *testing.T) {
	e := start(t, opts{functions: []string{"accounts", "persist", "route"}})
	ctx := context.Background()
	alice, bob := signup(t, e, "alice"), signup(t, e, "bob")
	conv, err := alice.sess.CreateConversation(ctx, "group", []string{alice.id, bob.id}, "race")
	if err != nil {
		t.Fatal(err)
	}
	recipients, err := alice.sess.ConversationDevices(ctx, conv.ID)
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join("..", "..")
	var procs []*funcrunner.Process
	for i := range 4 {
		p, err := e.p.StartFunction(ctx, filepath.Join(root, "functions", "persist"), fmt.Sprintf("persist-%d", i), nil, "")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Stop(context.Background()) })
		procs = append(procs, p)
	}
	const perProc = 60
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		seqs = map[int64]string{}
	)
	for i, p := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range perProc {
				id := fmt.Sprintf("m%d-%d", i, j)
				ev := sealed(t, conv.ID, alice, id, recipients)
				// Every message twice, to two different processes: the
				// idempotency key must hold across processes too.
				for _, target := range []*funcrunner.Process{p, procs[(i+1)%len(procs)]} {
					reply := post(t, target.URL(), ev)
					if reply.Type() != events.TypeMessageStored {
						t.Errorf("%s: reply %s: %s", id, reply.Type(), reply.Data())
						return
					}
					m, err := events.Decode[events.Message](reply)
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					if other, ok := seqs[m.Seq]; ok && other != id {
						t.Errorf("seq %d given to %s and %s", m.Seq, other, id)
					}
					seqs[m.Seq] = id
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	e.checkStored(t, conv.ID, 4*perProc)
}

func sealed(t *testing.T, conv string, from *person, id string, to []e2ee.Recipient) event.Event {
	t.Helper()
	content, _ := e2ee.Content{Text: "race " + id}.Marshal()
	env, err := e2ee.Seal(content, e2ee.AssociatedData{Conversation: conv, SenderDevice: from.sess.DeviceID(), ClientMessageID: id}, to)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := events.NewMessageSent(events.SourceConnectorPrefix+"test", conv, from.id, from.sess.DeviceID(),
		events.MessageSent{ClientMessageID: id, Envelope: env})
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// post sends ev to a function in binary mode and returns its reply event.
func post(t *testing.T, url string, ev event.Event) event.Event {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ceprotocol.WriteRequest(context.Background(), binding.ToMessage(&ev), req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		t.Fatalf("POST %s: %d %s", url, resp.StatusCode, b.String())
	}
	reply, err := cloudevents.NewEventFromHTTPResponse(resp)
	if err != nil {
		t.Fatalf("reply: %v", err)
	}
	return *reply
}
