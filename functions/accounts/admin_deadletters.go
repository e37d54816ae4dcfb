package function

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/store"
	"github.com/agentchat/agentchat/store/deadletters"
)

// The dead letters in the admin API: what the deadletter function stored
// (store/deadletters), listed and inspected as metadata (never the event's
// data: ciphertext or metadata about it, and no use to an operator), and
// replayed through the broker.

// adminListDeadLetters lists letters newest first (?state=dead|replayed,
// ?type=, ?before= the previous page's next, ?limit=).
func (s *service) adminListDeadLetters(w http.ResponseWriter, r *http.Request, _ principal) error {
	limit, err := pageLimit(r, 100, 1000)
	if err != nil {
		return err
	}
	qv := r.URL.Query()
	q := deadletters.Query{State: qv.Get("state"), Type: qv.Get("type"), Limit: limit}
	if q.State != "" && q.State != deadletters.Dead && q.State != deadletters.Replayed {
		return invalid("state", "must be %q or %q", deadletters.Dead, deadletters.Replayed)
	}
	if b := qv.Get("before"); b != "" {
		ms, id, ok := strings.Cut(b, ".")
		n, err := strconv.ParseInt(ms, 10, 64)
		if !ok || err != nil || id == "" {
			return invalid("before", "not a cursor from a previous page's next")
		}
		q.Before = deadletters.Cursor{DeadAt: time.UnixMilli(n).UTC(), ID: id}
	}
	ls, err := s.letters.List(r.Context(), q)
	if err != nil {
		return err
	}
	resp := map[string]any{"deadLetters": ls}
	if len(ls) == limit {
		last := ls[len(ls)-1]
		resp["next"] = strconv.FormatInt(last.DeadAt.UnixMilli(), 10) + "." + last.ID
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// letterView is one letter inspected: its metadata, the event's
// attributes and extensions (no data), and whether it can be replayed.
type letterView struct {
	deadletters.Letter
	Attributes map[string]any `json:"attributes,omitempty"`
	Replayable bool           `json:"replayable"`
}

// adminGetDeadLetter inspects one letter.
func (s *service) adminGetDeadLetter(w http.ResponseWriter, r *http.Request, _ principal) error {
	l, err := s.letter(r)
	if err != nil {
		return err
	}
	v := letterView{Letter: l, Replayable: !l.Truncated && l.Event != nil}
	if e, err := decodeLetter(l); err == nil {
		v.Attributes = map[string]any{
			"specversion": e.SpecVersion(), "id": e.ID(), "source": e.Source(), "type": e.Type(),
			"subject": e.Subject(), "time": e.Time(), "datacontenttype": e.DataContentType(),
		}
		for k, x := range e.Extensions() {
			if k != events.ExtErrorData { // shown once, as errorData
				v.Attributes[k] = x
			}
		}
	} else {
		v.Replayable = false
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

// adminReplayDeadLetter posts the letter's event to the broker again, as
// it was but for the broker's delivery attributes (knativeerror*, and the
// TTL, which starts afresh), then marks the letter replayed. The event
// goes to every Trigger it matches, not only the one that failed; every
// subscriber is idempotent on the event's keys, so those that had it
// already change nothing. Replaying twice is as safe. 409 for a letter
// kept without its event (over the sink's bound); 503 without a broker
// or when the broker does not take it (nothing marked: repeat).
func (s *service) adminReplayDeadLetter(w http.ResponseWriter, r *http.Request, p principal) error {
	l, err := s.letter(r)
	if err != nil {
		return err
	}
	if l.Truncated || l.Event == nil {
		return problem(http.StatusConflict, "this event was over the dead-letter sink's size bound: only its metadata was kept, it cannot be replayed")
	}
	e, err := decodeLetter(l)
	if err != nil {
		s.log.Error("accounts: dead letter not decodable", "letter", l.ID, "err", err)
		return problem(http.StatusConflict, "the stored event cannot be decoded; it cannot be replayed")
	}
	for _, ext := range []string{events.ExtErrorDest, events.ExtErrorCode, events.ExtErrorData, events.ExtBrokerTTL} {
		e.SetExtension(ext, nil) // nil removes it
	}
	if s.changes == nil {
		return &Problem{Status: http.StatusServiceUnavailable, Detail: "no broker configured (K_SINK); nothing was replayed"}
	}
	if err := s.changes.Send(r.Context(), e); err != nil {
		s.log.Warn("accounts: replay refused by the broker", "letter", l.ID, "err", err)
		return &Problem{Status: http.StatusServiceUnavailable, retryAfter: 5 * time.Second, Detail: "the broker did not take the event; nothing was marked, try again"}
	}
	l, err = s.letters.MarkReplayed(r.Context(), l.ID, p.User, s.now().UTC())
	if err != nil {
		return err
	}
	s.log.Info("accounts: dead letter replayed", "letter", l.ID, "type", l.Type, "id", l.EventID, "by", p.User)
	l.Event = nil
	writeJSON(w, http.StatusOK, letterView{Letter: l, Replayable: true})
	return nil
}

// letter reads the letter named by the path's id: 404 if none.
func (s *service) letter(r *http.Request) (deadletters.Letter, error) {
	l, err := s.letters.Get(r.Context(), r.PathValue("id"))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return l, notFound("dead letter")
	case err != nil:
		return l, err
	}
	return l, nil
}

func decodeLetter(l deadletters.Letter) (event.Event, error) {
	e := event.New()
	if l.Event == nil {
		return e, errors.New("no event kept")
	}
	err := e.UnmarshalJSON(l.Event)
	return e, err
}
