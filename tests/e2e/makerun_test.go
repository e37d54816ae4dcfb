package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentchat/agentchat/internal/testenv"
	"github.com/agentchat/agentchat/sdk/client"
	"github.com/agentchat/agentchat/sdk/e2ee"
)

// TestMakeRun is the README's first command as a newcomer runs it: `make
// run` (cmd/agentchat) with nothing configured — embedded Redis, MongoDB
// (FerretDB on SQLite) and MinIO, every function, demo users and agents.
// It must say where to connect; demo logs in and the calc agent answers it
// over a real WebSocket; the connector serves the web client; Ctrl-C stops
// everything cleanly.
func TestMakeRun(t *testing.T) {
	_, here, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(here), "..", "..")
	bin := filepath.Join(t.TempDir(), "agentchat")
	build := exec.Command("go", "build", "-o", bin, "./cmd/agentchat")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/agentchat: %v\n%s", err, out)
	}
	addr := func() string { return fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)) }
	cmd := exec.Command(bin, "-listen", addr(), "-accounts", addr(), "-broker", addr())
	cmd.Dir = root
	// Nothing configured: every backing service embedded, its data in a
	// folder of this test's own.
	for _, kv := range os.Environ() {
		switch name, _, _ := strings.Cut(kv, "="); name {
		case "REDIS_URL", "MONGODB_URI", "S3_ENDPOINT", "OPENAI_BASE_URL", "AGENTCHAT_DATA_DIR":
		default:
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "AGENTCHAT_DATA_DIR="+t.TempDir())
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var logs lockedBuffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	var printed lockedBuffer
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(io.TeeReader(out, &printed))
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "Ctrl-C stops everything.") {
				close(ready)
			}
		}
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
		}
	})
	select {
	case <-ready:
	case err := <-exited:
		t.Fatalf("make run ended before it was ready: %v\nstdout:\n%s\nlog (end):\n%s", err, printed.String(), tail(logs.String(), 40))
	case <-time.After(5 * time.Minute):
		t.Fatalf("make run not ready in 5 minutes\nstdout:\n%s\nlog (end):\n%s", printed.String(), tail(logs.String(), 40))
	}
	said := printed.String()
	field := func(name string) string {
		m := regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(name) + `:\s+(\S+)`).FindStringSubmatch(said)
		if m == nil {
			t.Fatalf("make run did not print %q:\n%s", name, said)
		}
		return strings.TrimSuffix(m[1], ",")
	}
	accountsURL, connectorURL, webURL := field("accounts (HTTP)"), field("connector (WebSocket)"), field("web client")

	// demo logs in with a device of its own and asks the calc agent.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	key, _ := e2ee.GenerateKey()
	sess, err := client.NewAccounts(accountsURL, nil).Login(ctx, client.LoginRequest{Username: "demo", Password: "demo-password",
		PublicKey: key.PublicKey(), DeviceName: "make run test"})
	if err != nil {
		t.Fatalf("log in as demo (as make run printed): %v\n%s", err, said)
	}
	conv, err := sess.CreateConversation(ctx, client.KindDirect, []string{"calc"}, "")
	if err != nil {
		t.Fatalf("the conversation with calc: %v", err)
	}
	c, err := client.Dial(ctx, client.Config{URLs: []string{connectorURL}, Token: sess.Token, User: sess.UserID(),
		Device: sess.DeviceID(), Key: key, Directory: sess, AutoDeliveredAck: true})
	if err != nil {
		t.Fatalf("dial %s: %v", connectorURL, err)
	}
	defer c.Close()
	w := watch(c)
	send(t, c, w, conv.ID, "6*7")
	testenv.Eventually(t, time.Minute, 20*time.Millisecond, func() bool {
		for _, m := range w.messages(conv.ID, "calc") {
			if strings.Contains(m.Content.Text, "42") {
				return true
			}
		}
		return false
	}, "calc answers 6*7 with 42")

	// The web client is served where make run said.
	resp, err := http.Get(webURL)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), "<script") {
		t.Errorf("GET %s: %d, %d bytes without the web client", webURL, resp.StatusCode, len(page))
	}

	// Ctrl-C stops everything, cleanly.
	c.Close()
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("make run exited with %v after Ctrl-C\nlog (end):\n%s", err, tail(logs.String(), 30))
		}
	case <-time.After(2 * time.Minute):
		t.Fatalf("make run still running 2 minutes after Ctrl-C\nlog (end):\n%s", tail(logs.String(), 30))
	}
	if l := logs.String(); !strings.Contains(l, "closed, all deliveries finished") {
		t.Errorf("the broker did not say it finished every delivery:\n%s", tail(l, 30))
	}
}

// lockedBuffer is a strings.Builder for one writer and other readers.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
