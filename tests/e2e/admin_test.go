package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/agentchat/agentchat/internal/platform"
	"github.com/agentchat/agentchat/internal/testenv"
	"github.com/agentchat/agentchat/sdk/client"
	"github.com/agentchat/agentchat/sdk/e2ee"
	"github.com/agentchat/agentchat/sdk/protocol"
)

// An admin suspends a user who has a socket open on each of two
// connectors (sharing the test command's Redis): both close at once with
// 4004 (the Go client stops reconnecting and says why), the user's
// unexpired token opens no new socket on either connector (403
// suspended), a login with the right password is refused with a problem,
// and the audit log names the admin, the action, the user and the outcome.
func TestSuspendedUserIsCutOffEverywhere(t *testing.T) {
	e := start(t, opts{connectors: 2, functions: []string{"accounts"}})
	ctx := context.Background()
	root, bob := signup(t, e, "root"), signup(t, e, "bob")
	admin := e.adminAPI(t, root)

	bobToken, err := bob.sess.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	urls := e.p.ConnectorURLs()
	// A raw socket on the first connector, with the hello read (so the
	// connector holds it)...
	ws, _, err := dialRaw(urls[0], bobToken)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	if f := expectFrame(t, ws, protocol.TypeHello); f.User != bob.id {
		t.Fatalf("hello %+v", f)
	}
	// ...and the Go client, with a second device, on the second.
	key2, _ := e2ee.GenerateKey()
	sess2, err := client.NewAccounts(e.p.AccountsURL(), nil).Login(ctx, client.LoginRequest{
		Username: bob.name, Password: "correct horse battery", PublicKey: key2.PublicKey(), DeviceName: "tablet"})
	if err != nil {
		t.Fatal(err)
	}
	cl, err := client.Dial(ctx, client.Config{URLs: urls[1:], Token: sess2.Token, User: bob.id, Device: sess2.DeviceID(),
		Key: key2, Directory: sess2, EventBuffer: 1024})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	w := watch(cl)
	testenv.Eventually(t, 10*time.Second, 20*time.Millisecond, func() bool {
		w.mu.Lock()
		defer w.mu.Unlock()
		for _, ev := range w.evs {
			if c, ok := ev.(*client.Connection); ok && c.Up {
				return true
			}
		}
		return false
	}, "the tablet is connected")

	admin.do(t, "POST", "/v1/admin/users/"+bob.id+"/suspend", http.StatusOK, nil)

	ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		if _, _, err = ws.ReadMessage(); err != nil {
			break
		}
	}
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != protocol.CloseSuspended {
		t.Errorf("raw socket on connector 0 ended with %v, want close %d", err, protocol.CloseSuspended)
	}
	testenv.Eventually(t, 10*time.Second, 20*time.Millisecond, func() bool {
		w.mu.Lock()
		defer w.mu.Unlock()
		for _, ev := range w.evs {
			if e, ok := ev.(*client.Error); ok && e.Code == client.CodeSuspended {
				return true
			}
		}
		return false
	}, "the tablet on connector 1 told it was suspended (close 4004)")

	for _, url := range urls {
		ws, resp, err := dialRaw(url, bobToken)
		if err == nil {
			ws.Close()
			t.Errorf("%s: the suspended user's unexpired token opened a socket", url)
			continue
		}
		if resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s: got %v, want 403", url, resp)
			continue
		}
		var p struct{ Code string }
		json.NewDecoder(resp.Body).Decode(&p)
		if p.Code != protocol.CodeSuspended {
			t.Errorf("%s: problem code %q, want %q", url, p.Code, protocol.CodeSuspended)
		}
	}
	_, err = client.NewAccounts(e.p.AccountsURL(), nil).Login(ctx, client.LoginRequest{
		Username: bob.name, Password: "correct horse battery", DeviceID: bob.sess.DeviceID()})
	var pe *client.ProblemError
	if !errors.As(err, &pe) || pe.Status != http.StatusForbidden || pe.Code != "suspended" {
		t.Errorf("login of the suspended user: %v, want a 403 problem with code suspended", err)
	}

	var audit struct {
		Entries []struct{ Actor, Action, Target, Outcome string }
	}
	admin.do(t, "GET", "/v1/admin/audit?action=user.suspend", http.StatusOK, &audit)
	if len(audit.Entries) != 1 || audit.Entries[0] != (struct{ Actor, Action, Target, Outcome string }{root.id, "user.suspend", bob.id, "ok"}) {
		t.Errorf("audit log = %+v", audit.Entries)
	}

	// Lifted: the same token opens a socket again.
	admin.do(t, "POST", "/v1/admin/users/"+bob.id+"/unsuspend", http.StatusOK, nil)
	ws, _, err = dialRaw(urls[1], bobToken)
	if err != nil {
		t.Fatalf("after unsuspend: %v", err)
	}
	ws.Close()
}

// adminAPI is an accounts process of e's platform with who in
// ACCOUNTS_ADMINS (user ids are made at sign-up, so the operator's order
// is the test's too: sign up, then configure), called with who's token.
type adminAPI struct {
	url  string
	sess *client.Session
}

func (e *env) adminAPI(t *testing.T, who *person) *adminAPI {
	t.Helper()
	root, err := platform.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	proc, err := e.p.StartFunction(ctx, filepath.Join(root, "functions", "accounts"), "accounts-admin",
		map[string]string{"ACCOUNTS_ADMINS": who.id}, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		proc.Stop(ctx)
	})
	return &adminAPI{url: proc.URL(), sess: who.sess}
}

// do calls the admin API and decodes the answer into out (if not nil).
func (a *adminAPI) do(t *testing.T, method, path string, want int, out any) {
	t.Helper()
	token, err := a.sess.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(method, a.url+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: %d %s, want %d", method, path, resp.StatusCode, strings.TrimSpace(string(body)), want)
	}
	if out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, body)
		}
	}
}
