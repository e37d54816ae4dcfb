package e2e

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/agentchat/agentchat/internal/testenv"
	"github.com/agentchat/agentchat/sdk/client"
	"github.com/agentchat/agentchat/sdk/e2ee"
	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/webpushtest"
	"github.com/agentchat/agentchat/store/seen"
)

// pushFunctions run the message pipeline with push beside route.
var pushFunctions = []string{"accounts", "persist", "route", "deadletter", "push"}

// pushRecorder stands between the broker and the push function: it
// forwards every delivery and keeps each one the function answered 200,
// so the test knows when push has handled a stored message, and can
// deliver one again exactly as the broker did.
type pushRecorder struct {
	target string
	mu     sync.Mutex
	done   []recorded
}

type recorded struct {
	header http.Header
	body   []byte
}

func (r *pushRecorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	status, reply := r.forward(req.Header, body)
	if status == http.StatusOK && req.Header.Get("Ce-Type") == events.TypeMessageStored {
		r.mu.Lock()
		r.done = append(r.done, recorded{header: req.Header.Clone(), body: body})
		r.mu.Unlock()
	}
	w.WriteHeader(status)
	w.Write(reply)
}

func (r *pushRecorder) forward(h http.Header, body []byte) (int, []byte) {
	out, _ := http.NewRequest(http.MethodPost, r.target, bytes.NewReader(body))
	for k, v := range h {
		if strings.HasPrefix(k, "Ce-") || k == "Content-Type" || k == "Traceparent" {
			out.Header[k] = v
		}
	}
	resp, err := http.DefaultClient.Do(out)
	if err != nil {
		return http.StatusBadGateway, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func (r *pushRecorder) handled() []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]recorded(nil), r.done...)
}

// setPushSubscription registers sub for the session's device in accounts,
// as the web client does after login.
func setPushSubscription(t *testing.T, e *env, s *client.Session, sub webpushtest.Subscription) {
	t.Helper()
	tok, err := s.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(sub)
	req, _ := http.NewRequest(http.MethodPut, e.p.AccountsURL()+"/v1/devices/"+s.DeviceID()+"/push-subscription", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("PUT push-subscription: %d %s", resp.StatusCode, b)
	}
}

// Push, end to end through the real pipeline and the tests' own RFC 8030
// push service (which checks VAPID and decrypts RFC 8291 with each
// subscription's private keys): a burst of messages wakes bob's offline
// device exactly once and his online device never; alice's own offline
// device gets nothing for her messages; nothing of the messages is in a
// push, on the wire or decrypted; the same stored event delivered again
// pushes nothing; after the burst, the next message pushes again; and
// once bob has come back (opened the app on that device and left again),
// the next message pushes within the burst's window.
func TestPushOnePerBurstOfflineOnly(t *testing.T) {
	vapid, _ := ecdh.P256().GenerateKey(rand.Reader)
	svc, err := webpushtest.New(base64.RawURLEncoding.EncodeToString(vapid.PublicKey().Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Close)
	// The window is long enough for bob to come back and leave within
	// it (PRESENCE_GRACE after his socket closes).
	const window = 8 * time.Second
	e := start(t, opts{functions: pushFunctions, vapidKey: base64.RawURLEncoding.EncodeToString(vapid.Bytes()),
		env: map[string]string{"PUSH_ENDPOINTS": svc.Prefix(), "PUSH_COLLAPSE_WINDOW": window.String(), "PRESENCE_GRACE": "1s"}})
	rec := &pushRecorder{target: e.p.Function("push").URL()}
	proxy := httptest.NewServer(rec)
	t.Cleanup(proxy.Close)
	e.p.SetSubscriber("push", proxy.URL)

	ctx := context.Background()
	alice, bob := signup(t, e, "alice"), signup(t, e, "bob")
	bobAwayP := secondDevice(t, e, bob)
	bobAway, aliceAway := bobAwayP.sess, secondDevice(t, e, alice).sess // offline (bob's dialled once, below)
	subs := map[string]webpushtest.Subscription{}
	for name, s := range map[string]*client.Session{"bob online": bob.sess, "bob away": bobAway, "alice away": aliceAway} {
		subs[name] = svc.Subscribe()
		setPushSubscription(t, e, s, subs[name])
	}
	conv, err := alice.sess.CreateConversation(ctx, "direct", []string{alice.id, bob.id}, "")
	if err != nil {
		t.Fatal(err)
	}
	ca, cb := alice.dial(t, e), bob.dial(t, e)
	wb := watch(cb)

	const canary = "PUSH-CANARY-5d1e"
	send := func(n int) {
		t.Helper()
		for i := range n {
			if _, err := ca.Send(ctx, conv.ID, e2ee.Content{Text: fmt.Sprintf("%s %d", canary, i)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	handled := func(n int) {
		t.Helper()
		testenv.Eventually(t, 30*time.Second, 20*time.Millisecond, func() bool { return len(rec.handled()) >= n },
			fmt.Sprintf("push to have handled %d stored messages", n))
	}
	count := func(name string) int { return len(svc.Pushes(subs[name].Endpoint)) }

	send(3)
	handled(3)
	testenv.Eventually(t, 30*time.Second, 20*time.Millisecond, func() bool { return len(wb.messages(conv.ID, alice.id)) == 3 },
		"bob's online device to get the 3 messages")
	if got := count("bob away"); got != 1 {
		t.Errorf("bob's offline device got %d pushes for a burst of 3, want 1", got)
	}
	if got := count("bob online"); got != 0 {
		t.Errorf("bob's online device got %d pushes, want 0", got)
	}
	if got := count("alice away"); got != 0 {
		t.Errorf("the sender's own offline device got %d pushes, want 0", got)
	}

	// The broker delivers the first stored message again: nothing more.
	first := rec.handled()[0]
	if status, _ := rec.forward(first.header, first.body); status != http.StatusOK {
		t.Fatalf("redelivery: %d", status)
	}
	if got := count("bob away"); got != 1 {
		t.Errorf("a redelivered stored event pushed again: %d pushes", got)
	}

	// Bob leaves his online device: from now on he is offline. That ends
	// the burst too (he was online after its push); wait for the window
	// anyway, so the next push is the window's doing.
	ropt, err := redis.ParseURL(e.p.FunctionEnv()["REDIS_URL"])
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(ropt)
	t.Cleanup(func() { rdb.Close() })
	users := seen.NewRedis(rdb, e.p.FunctionEnv()["REDIS_PREFIX"], 0)
	bobState := func() seen.State {
		st, err := users.States(ctx, []string{bob.id})
		if err != nil {
			t.Fatal(err)
		}
		return st[bob.id]
	}
	cb.Close()
	testenv.Eventually(t, 30*time.Second, 20*time.Millisecond, func() bool { return !bobState().Online },
		"bob to be offline once his online device closed")
	burstKey := e.p.FunctionEnv()["REDIS_PREFIX"] + "push:burst:" + bobAway.DeviceID()
	testenv.Eventually(t, 3*window, 50*time.Millisecond, func() bool {
		n, err := rdb.Exists(ctx, burstKey).Result()
		return err == nil && n == 0
	}, "bob's burst to end")
	send(1)
	handled(4)
	if got := count("bob away"); got != 2 {
		t.Errorf("after the burst: %d pushes in all, want 2", got)
	}

	// Bob opens the app on that device (from the push), reads and closes
	// it; the next message, well within the new burst's window, pushes:
	// he came back, so that burst is over. The one after it does not.
	before := bobState().LastSeen
	bobAwayP.dial(t, e).Close()
	testenv.Eventually(t, 30*time.Second, 20*time.Millisecond, func() bool {
		st := bobState()
		return !st.Online && st.LastSeen.After(before)
	}, "bob to have come back and left")
	if n, err := rdb.Exists(ctx, burstKey).Result(); err != nil || n != 1 {
		t.Fatalf("bob's burst ended with its window before the test could come back within it (%d, %v)", n, err)
	}
	send(1)
	handled(5)
	if got := count("bob away"); got != 3 {
		t.Errorf("a message after bob came back within the window: %d pushes in all, want 3", got)
	}
	send(1)
	handled(6)
	if got := count("bob away"); got != 3 {
		t.Errorf("the next message of that new burst: %d pushes in all, want 3", got)
	}

	for _, p := range svc.Pushes("") {
		var payload map[string]string
		if err := json.Unmarshal(p.Plaintext, &payload); err != nil {
			t.Fatalf("payload %q: %v", p.Plaintext, err)
		}
		if len(payload) != 2 || payload["type"] != "message" || payload["conversation"] != conv.ID {
			t.Errorf("payload = %s, want only type and conversation", p.Plaintext)
		}
		for what, b := range map[string]string{"payload": string(p.Plaintext), "body": string(p.Body), "headers": fmt.Sprint(p.Header)} {
			if strings.Contains(b, canary) || strings.Contains(b, alice.name) || strings.Contains(b, alice.id) {
				t.Errorf("the push's %s carries content or the sender", what)
			}
		}
	}
	if errs := svc.Errors(); len(errs) > 0 {
		t.Errorf("the push service refused pushes: %v", errs)
	}
	if strings.Contains(e.logs.String(), canary) {
		t.Error("the canary is in the platform's logs")
	}
}
