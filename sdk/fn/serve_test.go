package fn

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
)

func testEvent(id, typ string) event.Event {
	e := event.New()
	e.SetID(id)
	e.SetType(typ)
	e.SetSource("test")
	_ = e.SetData(event.ApplicationJSON, map[string]string{"id": id})
	return e
}

// send posts e to url in binary mode.
func send(url string, e event.Event) (*http.Response, error) {
	req, err := http.NewRequest(http.MethodPost, url, nil)
	if err != nil {
		return nil, err
	}
	if err := cehttp.WriteRequest(context.Background(), binding.ToMessage(&e), req); err != nil {
		return nil, err
	}
	return http.DefaultClient.Do(req)
}

func post(t *testing.T, url string, e event.Event) *http.Response {
	t.Helper()
	resp, err := send(url, e)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func TestServeAnswers(t *testing.T) {
	h := func(ctx context.Context, e event.Event) (*event.Event, error) {
		switch e.Type() {
		case "reply":
			r := testEvent("re-"+e.ID(), "replied")
			return &r, nil
		case "refuse":
			return nil, Refuse("type %q is refused", e.Type())
		case "fail":
			return nil, errors.New("storage down")
		case "bad-reply":
			return &event.Event{}, nil
		}
		return nil, nil
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { Serve(w, r, h) }))
	defer srv.Close()

	resp := post(t, srv.URL, testEvent("1", "reply"))
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Ce-Id") != "re-1" || resp.Header.Get("Ce-Type") != "replied" {
		t.Errorf("reply: %d, ce-id %q, ce-type %q; want 200 with the reply in binary mode", resp.StatusCode, resp.Header.Get("Ce-Id"), resp.Header.Get("Ce-Type"))
	}
	for typ, want := range map[string]int{"none": 200, "refuse": 400, "fail": 500, "bad-reply": 500} {
		if resp := post(t, srv.URL, testEvent("2", typ)); resp.StatusCode != want {
			t.Errorf("%s: %d, want %d", typ, resp.StatusCode, want)
		} else if typ == "none" && resp.Header.Get("Ce-Id") != "" {
			t.Errorf("no reply, yet the answer is an event %q", resp.Header.Get("Ce-Id"))
		}
	}

	// Structured mode is read too.
	e := testEvent("3", "reply")
	body, _ := e.MarshalJSON()
	resp, err := http.Post(srv.URL, "application/cloudevents+json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Ce-Id") != "re-3" {
		t.Errorf("structured: %d, ce-id %q; want 200, re-3", resp.StatusCode, resp.Header.Get("Ce-Id"))
	}

	// Not an event, too big, not a POST.
	for name, c := range map[string]struct {
		method, ctype, body string
		want                int
	}{
		"no attributes": {http.MethodPost, "application/json", `{}`, 400},
		"too big":       {http.MethodPost, "application/cloudevents+json", `{"x":"` + strings.Repeat("a", MaxEventBytes) + `"}`, 413},
		"get":           {http.MethodGet, "", "", 405},
	} {
		req, _ := http.NewRequest(c.method, srv.URL, strings.NewReader(c.body))
		if c.ctype != "" {
			req.Header.Set("Content-Type", c.ctype)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("%s: %d, want %d", name, resp.StatusCode, c.want)
		}
	}
}

type reqKey struct{}

// Each event is handled with its own request's context, also when many
// arrive at once and end in another order than they came: func-go's
// cloudevents runtime mixes them up (see Serve).
func TestServeKeepsEachRequestsContext(t *testing.T) {
	release := make(chan struct{})
	h := func(ctx context.Context, e event.Event) (*event.Event, error) {
		if e.ID() == "0" {
			<-release // the first one ends last
		}
		if got := ctx.Value(reqKey{}); got != e.ID() {
			return nil, fmt.Errorf("event %s handled with the context of request %v", e.ID(), got)
		}
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("event %s: context ended: %w", e.ID(), err)
		}
		r := testEvent("re-"+e.ID(), "replied")
		return &r, nil
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := context.WithValue(r.Context(), reqKey{}, r.Header.Get("Ce-Id"))
		Serve(w, r.WithContext(ctx), h)
	}))
	defer srv.Close()
	const n = 200
	var wg sync.WaitGroup
	errs := make(chan string, n)
	for i := range n {
		wg.Go(func() {
			id := fmt.Sprint(i)
			defer func() {
				if i == n-1 {
					close(release)
				}
			}()
			resp, err := send(srv.URL, testEvent(id, "reply"))
			if err != nil {
				errs <- err.Error()
				return
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Ce-Id") != "re-"+id {
				b := new(bytes.Buffer)
				_, _ = b.ReadFrom(resp.Body)
				errs <- fmt.Sprintf("event %s: %d %q, reply %q", id, resp.StatusCode, b, resp.Header.Get("Ce-Id"))
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
