package function

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/store"
	"github.com/agentchat/agentchat/store/audit"
	"github.com/agentchat/agentchat/store/deadletters"
)

// recordingSink is the broker as a replay sees it: it keeps what it takes,
// or refuses everything while fail is set.
type recordingSink struct {
	mu   sync.Mutex
	got  []event.Event
	fail bool
}

func (s *recordingSink) Send(_ context.Context, e event.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail {
		return errors.New("broker: 503")
	}
	s.got = append(s.got, e)
	return nil
}

// putLetter stores a dead letter as the deadletter function does, in a's
// database, and returns its id.
func (a *accounts) putLetter(id string, truncated bool) string {
	a.t.Helper()
	e := event.New()
	e.SetID(id)
	e.SetSource("/agentchat/connector/c1")
	e.SetType(events.TypeMediaUploadRequested)
	e.SetExtension(events.ExtConversationID, "conv-1")
	e.SetExtension(events.ExtErrorDest, "http://media")
	e.SetExtension(events.ExtErrorCode, "500")
	e.SetExtension(events.ExtErrorData, "Ym9vbQ")
	e.SetExtension(events.ExtBrokerTTL, 250)
	e.SetData("application/json", map[string]string{"sealed": "CIPHERTEXT-ONLY"})
	raw, _ := e.MarshalJSON()
	l := deadletters.Letter{EventID: id, Source: e.Source(), Type: e.Type(), Conversation: "conv-1",
		ErrorDest: "http://media", ErrorCode: "500", ErrorData: "Ym9vbQ", Event: raw, Size: len(raw), DeadAt: time.Now()}
	if truncated {
		l.Event, l.Truncated = nil, true
	}
	db, err := store.OpenMongo(a.cfg.MongoURI, a.db, "test")
	if err != nil {
		a.t.Fatal(err)
	}
	defer db.Close(context.Background())
	if _, err := deadletters.NewMongo(db).Put(context.Background(), l); err != nil {
		a.t.Fatal(err)
	}
	return deadletters.Key(l.Source, id)
}

func TestAdminDeadLetters(t *testing.T) {
	a, root := withAdmin(t)
	sink := &recordingSink{}
	a.f.svc.Load().changes = sink
	good, big, spare := a.putLetter("ev-1", false), a.putLetter("ev-2", true), a.putLetter("ev-3", false)

	var list struct {
		DeadLetters []deadletters.Letter `json:"deadLetters"`
		Next        string               `json:"next"`
	}
	a.must(a.call("GET", "/v1/admin/deadletters?state=dead&limit=2", root.AccessToken, nil), http.StatusOK, &list)
	if len(list.DeadLetters) != 2 || list.Next == "" || list.DeadLetters[0].ID != spare {
		t.Fatalf("first page = %+v", list)
	}
	next := list.Next
	list = struct {
		DeadLetters []deadletters.Letter `json:"deadLetters"`
		Next        string               `json:"next"`
	}{}
	a.must(a.call("GET", "/v1/admin/deadletters?state=dead&before="+next, root.AccessToken, nil), http.StatusOK, &list)
	if len(list.DeadLetters) != 1 || list.DeadLetters[0].ID != good {
		t.Fatalf("second page = %+v", list)
	}
	a.problemOf(a.call("GET", "/v1/admin/deadletters?state=lost", root.AccessToken, nil), http.StatusBadRequest)

	r := a.call("GET", "/v1/admin/deadletters/"+good, root.AccessToken, nil)
	if strings.Contains(string(r.body), "CIPHERTEXT-ONLY") {
		t.Errorf("inspection shows the event's data: %s", r.body)
	}
	var v struct {
		deadletters.Letter
		Attributes map[string]any `json:"attributes"`
		Replayable bool           `json:"replayable"`
	}
	a.must(r, http.StatusOK, &v)
	if !v.Replayable || v.ErrorDest != "http://media" || v.ErrorCode != "500" || v.Attributes["type"] != events.TypeMediaUploadRequested ||
		v.Attributes[events.ExtConversationID] != "conv-1" {
		t.Errorf("inspected = %+v", v)
	}
	a.problemOf(a.call("GET", "/v1/admin/deadletters/nope", root.AccessToken, nil), http.StatusNotFound)

	a.problemOf(a.call("POST", "/v1/admin/deadletters/"+big+"/replay", root.AccessToken, nil), http.StatusConflict)
	sink.fail = true
	a.problemOf(a.call("POST", "/v1/admin/deadletters/"+spare+"/replay", root.AccessToken, nil), http.StatusServiceUnavailable)
	sink.fail = false

	a.must(a.call("POST", "/v1/admin/deadletters/"+good+"/replay", root.AccessToken, nil), http.StatusOK, &v)
	if v.State != deadletters.Replayed || v.ReplayedBy != root.UserID || v.Replays != 1 || v.ReplayedAt == nil {
		t.Errorf("replayed letter = %+v", v.Letter)
	}
	if len(sink.got) != 1 {
		t.Fatalf("broker got %d events, want 1", len(sink.got))
	}
	e := sink.got[0]
	if e.ID() != "ev-1" || e.Source() != "/agentchat/connector/c1" || !strings.Contains(string(e.Data()), "CIPHERTEXT-ONLY") ||
		e.Extensions()[events.ExtConversationID] != "conv-1" {
		t.Errorf("replayed %v, want the event as it was", e)
	}
	for _, ext := range []string{events.ExtErrorDest, events.ExtErrorCode, events.ExtErrorData, events.ExtBrokerTTL} {
		if _, ok := e.Extensions()[ext]; ok {
			t.Errorf("replayed event still carries %s", ext)
		}
	}
	var spareNow struct{ State string }
	a.must(a.call("GET", "/v1/admin/deadletters/"+spare, root.AccessToken, nil), http.StatusOK, &spareNow)
	if spareNow.State != deadletters.Dead {
		t.Errorf("a replay the broker refused marked the letter %s", spareNow.State)
	}

	var page auditPage
	a.must(a.call("GET", "/v1/admin/audit?action=deadletter.replay", root.AccessToken, nil), http.StatusOK, &page)
	want := []struct {
		target  string
		outcome string
		status  int
	}{{good, audit.OK, 200}, {spare, audit.Failed, 503}, {big, audit.Failed, 409}}
	if len(page.Entries) != len(want) {
		t.Fatalf("audit = %+v", page.Entries)
	}
	for i, w := range want {
		if e := page.Entries[i]; e.Target != w.target || e.Outcome != w.outcome || e.Status != w.status || e.Actor != root.UserID {
			t.Errorf("audit %d = %+v, want %+v", i, e, w)
		}
	}
}
