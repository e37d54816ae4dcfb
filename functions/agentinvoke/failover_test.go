package function

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/agentchat/agentchat/sdk/events"
)

// twoEndpoints gives the bot the endpoints first and second, in that order.
func twoEndpoints(c *config) {
	c.Model.Endpoints = []endpoint{{BaseURL: "http://first/v1", Model: "m1"}, {BaseURL: "http://second/v1", Model: "m2"}}
}

// A call moves to the next endpoint at once when one refuses it, fails it
// with a 5xx or does not start answering in time — one call, one reply —
// and does not move once content has streamed. Endpoints that only
// refused are asked again in the next round; the others are not.
func TestTurnFailover(t *testing.T) {
	// Retry-After of an hour: the call must not wait for it while another
	// endpoint is there (the test would time out).
	limited := &modelError{Code: codeRateLimited, Message: "busy", Refused: true, Status: 429, RetryAfter: time.Hour, Retryable: true, Err: errors.New("429")}
	limitedBriefly := &modelError{Code: codeRateLimited, Message: "busy", Refused: true, Status: 429, RetryAfter: time.Millisecond, Retryable: true, Err: errors.New("429")}
	fell := &modelError{Code: codeModelError, Message: "could not answer", Status: 500, Retryable: true, Err: errors.New("500")}
	broken := &modelError{Code: codeModelError, Message: "broke off", Retryable: true, Err: errors.New("EOF")}
	never := make(chan struct{})
	type reply = func(context.Context, func(string)) (string, error)
	for _, c := range []struct {
		name      string
		quiet     string // an endpoint that never starts answering
		replies   []reply
		want      []string // the endpoints asked, in order
		wantReply string
		wantCode  string
	}{
		{"429, then the second answers", "", []reply{failing(limited), chunks("from the second")},
			[]string{"first", "second"}, "from the second", ""},
		{"500, then the second answers", "", []reply{failing(fell), chunks("from the second")},
			[]string{"first", "second"}, "from the second", ""},
		{"no first chunk in time, then the second answers", "http://first/v1", []reply{blocking(never, ""), chunks("from the second")},
			[]string{"first", "second"}, "from the second", ""},
		{"both refuse: two rounds", "", []reply{failing(limitedBriefly)},
			[]string{"first", "second", "first", "second"}, "", codeRateLimited},
		{"a 500 is not asked again", "", []reply{failing(fell), failing(limitedBriefly)},
			[]string{"first", "second", "second"}, "", codeRateLimited},
		{"broken after content: not moved", "", []reply{failing(broken), chunks("never")},
			[]string{"first"}, "", codeModelError},
	} {
		t.Run(c.name, func(t *testing.T) {
			fx := newFixture(t, func(cfg *config) {
				twoEndpoints(cfg)
				cfg.Retries, cfg.EndpointTimeout = 1, 50*time.Millisecond
			}, c.replies...)
			fx.model.quiet = map[string]bool{c.quiet: true}
			m := fx.w.say("alice", "hello")
			fx.handle(t, m)
			k := callKey{"c-1", m.Seq, "bot"}
			eventually(t, "finished", func() bool { return fx.finished(k) })
			var asked []string
			for _, u := range fx.model.endpoints() {
				asked = append(asked, map[string]string{"http://first/v1": "first", "http://second/v1": "second"}[u])
			}
			if !slices.Equal(asked, c.want) {
				t.Errorf("endpoints asked = %v, want %v", asked, c.want)
			}
			for i, r := range fx.model.requests {
				if want := map[string]string{"http://first/v1": "m1", "http://second/v1": "m2"}[r.Endpoint.BaseURL]; r.Endpoint.Model != want {
					t.Errorf("request %d went to %+v: the model of another endpoint", i, r.Endpoint)
				}
			}
			replies, errs := fx.w.stored("bot"), fx.w.posted(events.TypeAgentError)
			if c.wantCode == "" {
				if len(replies) != 1 || openAs(t, replies[0], fx.bob[0]) != c.wantReply || len(errs) != 0 {
					t.Fatalf("replies %d, agent.errors %d; want one reply %q", len(replies), len(errs), c.wantReply)
				}
				turns, _ := fx.used.Turns(context.Background(), "c-1", 10)
				if len(turns) != 1 || turns[0].Endpoint != "http://second/v1" || turns[0].Model != "m2" {
					t.Errorf("usage = %+v, want one turn answered by the second endpoint", turns)
				}
				return
			}
			if len(replies) != 0 || len(errs) != 1 {
				t.Fatalf("replies %d, agent.errors %d; want 0, 1", len(replies), len(errs))
			}
			if d, _ := events.Decode[events.AgentError](errs[0]); d.Code != c.wantCode {
				t.Errorf("code = %s, want %s", d.Code, c.wantCode)
			}
		})
	}
}

// A call that moved to the second endpoint and whose runtime died while
// it streamed is resumed from the answer the second endpoint stored.
func TestTurnResumesFromTheEndpointThatAnswered(t *testing.T) {
	fx := newFixture(t, func(c *config) {
		twoEndpoints(c)
		c.Sweep, c.Model.Store = 20*time.Millisecond, true
	}, chunks("never asked"))
	fx.model.stored = map[string]string{"cmpl-2": "stored by the second"}
	m := fx.w.say("alice", "hello")
	k := callKey{Conversation: "c-1", Seq: m.Seq, Agent: "bot"}
	ctx := context.Background()
	fx.led.Claim(ctx, k, fx.w.invokeData(t, "bot", m), "dead-instance", time.Now().Add(-time.Second))
	fx.led.MarkSent(ctx, k, 1)
	fx.led.MarkStarted(ctx, k, 1, "cmpl-2", "http://second/v1")
	eventually(t, "finished", func() bool { return fx.finished(k) })
	replies := fx.w.stored("bot")
	if fx.model.count() != 0 || len(replies) != 1 || openAs(t, replies[0], fx.bob[0]) != "stored by the second" {
		t.Errorf("model requests %d, replies %d; want 0 and the stored answer", fx.model.count(), len(replies))
	}
	fx.model.mu.Lock()
	at := slices.Clone(fx.model.retrievedAt)
	fx.model.mu.Unlock()
	if len(at) == 0 || at[0] != "http://second/v1" {
		t.Errorf("stored answer read at %v, want the second endpoint", at)
	}
	if turns, _ := fx.used.Turns(ctx, "c-1", 10); len(turns) != 1 || turns[0].Endpoint != "http://second/v1" || turns[0].Tokens() != 15 {
		t.Errorf("usage = %+v, want the resumed answer's, at the second endpoint", turns)
	}
}
