package e2e

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"

	"github.com/agentchat/agentchat/internal/testenv"
	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/fn"
	"github.com/agentchat/agentchat/store/deadletters"
)

// refusingSubscriber stands in for a function: it answers 500 to every
// event until accept is set, and records what it accepted.
type refusingSubscriber struct {
	accept   atomic.Bool
	refused  atomic.Int64
	mu       sync.Mutex
	accepted []event.Event
}

func (s *refusingSubscriber) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	e, err := binding.ToEvent(r.Context(), cehttp.NewMessageFromHttpRequest(r))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if !s.accept.Load() {
		s.refused.Add(1)
		http.Error(w, "not today", http.StatusInternalServerError)
		return
	}
	s.mu.Lock()
	s.accepted = append(s.accepted, *e)
	s.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

func (s *refusingSubscriber) got() []event.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]event.Event(nil), s.accepted...)
}

// An event a subscriber keeps refusing goes, once the Trigger's retries
// are spent, to the dead-letter sink, which stores it with Knative's error
// attributes; an admin finds it through accounts' admin API, inspects it
// and — the subscriber fixed — replays it through the broker: the
// subscriber gets the same event (same id and source, without the error
// attributes), the letter is marked replayed and the audit log has it.
func TestDeadLetterIsStoredAndReplayed(t *testing.T) {
	e := start(t, opts{functions: []string{"accounts", "deadletter"}})
	ctx := context.Background()
	sub := &refusingSubscriber{}
	srv := httptest.NewServer(sub)
	defer srv.Close()
	// The media Trigger's subscriber (triggers/media.yaml: 5 retries,
	// then the dead-letter sink) is the refusing one; media is not started.
	e.p.SetSubscriber("media", srv.URL)

	root := signup(t, e, "root")
	admin := e.adminAPI(t, root)

	ev := event.New()
	ev.SetID("e2e-dead-" + root.id)
	ev.SetType(events.TypeMediaUploadRequested)
	ev.SetSource("/e2e/dead-letter-test")
	ev.SetExtension(events.ExtConversationID, "c-dead-letter")
	if err := ev.SetData("application/json", map[string]string{"mediaId": "m-1"}); err != nil {
		t.Fatal(err)
	}
	broker, err := fn.NewSink("e2e", e.p.BrokerURL())
	if err != nil {
		t.Fatal(err)
	}
	if err := broker.Send(ctx, ev); err != nil {
		t.Fatal(err)
	}

	key := deadletters.Key(ev.Source(), ev.ID())
	var letter struct {
		deadletters.Letter
		Attributes map[string]any `json:"attributes"`
		Replayable bool           `json:"replayable"`
	}
	testenv.Eventually(t, 60*time.Second, 100*time.Millisecond, func() bool {
		var list struct{ DeadLetters []deadletters.Letter }
		admin.do(t, "GET", "/v1/admin/deadletters?state=dead&type="+events.TypeMediaUploadRequested, http.StatusOK, &list)
		return len(list.DeadLetters) == 1 && list.DeadLetters[0].ID == key
	}, "the refused event in the dead-letter store")
	if n := sub.refused.Load(); n != 6 {
		t.Errorf("the subscriber refused %d deliveries, want 6 (1 + 5 retries)", n)
	}
	admin.do(t, "GET", "/v1/admin/deadletters/"+key, http.StatusOK, &letter)
	if letter.EventID != ev.ID() || letter.Source != ev.Source() || letter.ErrorCode != "500" ||
		letter.ErrorDest == "" || letter.Conversation != "c-dead-letter" || !letter.Replayable {
		t.Errorf("letter = %+v", letter)
	}

	sub.accept.Store(true)
	admin.do(t, "POST", "/v1/admin/deadletters/"+key+"/replay", http.StatusOK, &letter)
	if letter.State != deadletters.Replayed || letter.ReplayedBy != root.id {
		t.Errorf("after the replay: %+v", letter.Letter)
	}
	testenv.Eventually(t, 20*time.Second, 20*time.Millisecond, func() bool { return len(sub.got()) == 1 },
		"the replayed event delivered")
	got := sub.got()[0]
	if got.ID() != ev.ID() || got.Source() != ev.Source() || string(got.Data()) != string(ev.Data()) {
		t.Errorf("delivered %v, want the original event", got)
	}
	for _, ext := range []string{events.ExtErrorDest, events.ExtErrorCode, events.ExtErrorData} {
		if _, ok := got.Extensions()[ext]; ok {
			t.Errorf("the replayed delivery carries %s", ext)
		}
	}

	var audit struct {
		Entries []struct{ Actor, Action, Target, Outcome string }
	}
	admin.do(t, "GET", "/v1/admin/audit?action=deadletter.replay", http.StatusOK, &audit)
	if len(audit.Entries) != 1 || audit.Entries[0] != (struct{ Actor, Action, Target, Outcome string }{root.id, "deadletter.replay", key, "ok"}) {
		t.Errorf("audit log = %+v", audit.Entries)
	}
}
