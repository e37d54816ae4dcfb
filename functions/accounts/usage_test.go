package function

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/agentchat/agentchat/store/usage"
)

// TestConversationUsage: what agent-invoke recorded for a conversation's
// agents is visible to its admins (both members of a direct
// conversation), per turn and per agent, and to nobody else.
func TestConversationUsage(t *testing.T) {
	t.Parallel()
	a := startAccounts(t, nil)
	ann, ben, cal := a.user("ann"), a.user("ben"), a.user("cal")
	var g, d conversationView
	a.must(a.call("POST", "/v1/conversations", ann.AccessToken, map[string]any{"kind": "group", "members": []string{ben.UserID}}), http.StatusCreated, &g)
	a.must(a.call("POST", "/v1/conversations", ben.AccessToken, map[string]any{"kind": "direct", "members": []string{cal.UserID}}), http.StatusCreated, &d)

	// agent-invoke's records, through the store it writes with.
	client, err := mongo.Connect(options.Client().ApplyURI(a.cfg.MongoURI))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Disconnect(context.Background())
	st, err := usage.NewMongo(context.Background(), client.Database(a.db))
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	for _, tu := range []usage.Turn{
		{Conversation: g.ConversationID, Seq: 2, Agent: "a-helper", Endpoint: "http://models.internal:8000/v1", Model: "m1", PromptTokens: 100, CompletionTokens: 20, Reported: true, At: at},
		{Conversation: g.ConversationID, Seq: 2, Agent: "a-helper", Step: 1, Endpoint: "http://models.internal:8000/v1", Model: "m1", PromptTokens: 150, CompletionTokens: 30, Reported: true, At: at},
		{Conversation: g.ConversationID, Seq: 5, Agent: "a-calc", Model: "m2", At: at},
		{Conversation: d.ConversationID, Seq: 1, Agent: "a-helper", Model: "m1", PromptTokens: 7, CompletionTokens: 3, Reported: true, At: at},
	} {
		if err := st.Record(context.Background(), tu); err != nil {
			t.Fatal(err)
		}
	}

	type answer struct {
		Turns  []usageTurn
		Tokens map[string]int64
		More   bool
	}
	var got answer
	a.must(a.call("GET", "/v1/conversations/"+g.ConversationID+"/usage", ann.AccessToken, nil), http.StatusOK, &got)
	if len(got.Turns) != 3 || got.More || got.Tokens["a-helper"] != 300 || got.Tokens["a-calc"] != 0 {
		t.Fatalf("group usage for its admin = %+v; want 3 turns, a-helper 300 tokens, a-calc 0", got)
	}
	if tu := got.Turns[1]; tu.Seq != 2 || tu.Step != 1 || tu.Model != "m1" || tu.PromptTokens != 150 || !tu.Reported {
		t.Errorf("second turn = %+v", tu)
	}
	if got.Turns[2].Reported {
		t.Errorf("a turn without reported usage shows as reported: %+v", got.Turns[2])
	}
	// The endpoint is the platform's, not the conversation's.
	if r := a.call("GET", "/v1/conversations/"+g.ConversationID+"/usage", ann.AccessToken, nil); strings.Contains(string(r.body), "models.internal") {
		t.Errorf("usage names the endpoint: %s", r.body)
	}
	// A page.
	got = answer{}
	a.must(a.call("GET", "/v1/conversations/"+g.ConversationID+"/usage?limit=2", ann.AccessToken, nil), http.StatusOK, &got)
	if len(got.Turns) != 2 || !got.More {
		t.Errorf("limit=2: %d turns, more %v; want 2, true", len(got.Turns), got.More)
	}
	a.call("GET", "/v1/conversations/"+g.ConversationID+"/usage?limit=0", ann.AccessToken, nil).problem(t, http.StatusBadRequest)

	// A member who is not an admin, and someone outside.
	a.call("GET", "/v1/conversations/"+g.ConversationID+"/usage", ben.AccessToken, nil).problem(t, http.StatusForbidden)
	a.call("GET", "/v1/conversations/"+g.ConversationID+"/usage", cal.AccessToken, nil).problem(t, http.StatusNotFound)

	// Both people of a direct conversation see theirs.
	for _, s := range []sessionResponse{ben, cal} {
		got = answer{}
		a.must(a.call("GET", "/v1/conversations/"+d.ConversationID+"/usage", s.AccessToken, nil), http.StatusOK, &got)
		if len(got.Turns) != 1 || got.Tokens["a-helper"] != 10 {
			t.Errorf("direct usage = %+v; want 1 turn of 10 tokens", got)
		}
	}
}
