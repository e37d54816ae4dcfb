package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/agentchat/agentchat/internal/testenv"
	"github.com/agentchat/agentchat/sdk/e2ee"
)

// TestCLILocalHistory: the CLI keeps its own local history, against the
// running platform, with bob on the Go SDK. A first run (after one that
// only registered the device) takes bob's 30
// messages and stores them; the history file (0600) holds none of their
// text. A second run prints the last 20 from the file, gets only bob's
// new message from the platform, finds a word of the oldest message with
// /search and shows the ones before with /older — all from the file.
func TestCLILocalHistory(t *testing.T) {
	e := start(t, opts{functions: spineFunctions})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	_, here, _, _ := runtime.Caller(0)
	bin := filepath.Join(t.TempDir(), "chat")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/chat")
	build.Dir = filepath.Join(filepath.Dir(here), "..", "..")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build cmd/chat: %v\n%s", err, out)
	}

	alice, bob := signup(t, e, "alice"), signup(t, e, "bob")
	cb := bob.dial(t, e)
	conv, err := bob.sess.CreateConversation(ctx, "group", []string{bob.id, alice.id}, "cli history")
	if err != nil {
		t.Fatal(err)
	}
	canary := fmt.Sprintf("okapicanary%d", time.Now().UnixNano()%1e9)
	send := func(text string) {
		t.Helper()
		if _, err := cb.Send(ctx, conv.ID, e2ee.Content{Text: text}); err != nil {
			t.Fatal(err)
		}
	}
	state := t.TempDir()
	// runCLI runs the CLI on the conversation, writes each input line once
	// want shows in its output, then quits; it returns the output.
	runCLI := func(steps ...[2]string) string {
		t.Helper()
		cli := exec.CommandContext(ctx, bin, "-accounts", e.p.AccountsURL(), "-connector", e.p.ConnectorURLs()[0],
			"-user", alice.name, "-password", "correct horse battery", "-conv", conv.ID, "-state", state)
		stdin, err := cli.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		out := &logSink{}
		cli.Stdout, cli.Stderr = out, out
		if err := cli.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cli.Wait() }()
		defer func() {
			if t.Failed() {
				t.Logf("the CLI's output:\n%s", out)
			}
		}()
		for _, s := range steps {
			if s[0] != "" {
				io.WriteString(stdin, s[0]+"\n")
			}
			testenv.Eventually(t, 30*time.Second, 20*time.Millisecond, func() bool { return strings.Contains(out.String(), s[1]) }, "the CLI shows "+s[1])
		}
		io.WriteString(stdin, "/quit\n")
		stdin.Close()
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			cli.Process.Kill()
			t.Fatal("the CLI did not quit")
		}
		return out.String()
	}

	// The CLI's device exists before bob writes: what he sends is sealed for it.
	runCLI([2]string{"", "type to send"})
	send("first of all: " + canary)
	testenv.Eventually(t, 30*time.Second, 20*time.Millisecond, func() bool { return len(e.storedSeqs(t, conv.ID)) == 1 }, "seq 1 stored")
	for i := 2; i <= 30; i++ {
		send(fmt.Sprintf("line %d", i))
	}
	testenv.Eventually(t, time.Minute, 20*time.Millisecond, func() bool { return len(e.storedSeqs(t, conv.ID)) == 30 }, "30 stored")

	first := runCLI([2]string{"", "[#30"})
	if !strings.Contains(first, canary) {
		t.Errorf("the first run did not show seq 1:\n%s", first)
	}
	files, _ := filepath.Glob(filepath.Join(state, "*.history"))
	if len(files) != 1 {
		t.Fatalf("history files %v, want one", files)
	}
	raw, err := os.ReadFile(files[0])
	fi, _ := os.Stat(files[0])
	if err != nil || fi.Mode().Perm() != 0o600 || bytes.Count(raw, []byte("\n")) != 30 {
		t.Fatalf("history file: %v, mode %v, %d lines; want 0600 and 30", err, fi.Mode(), bytes.Count(raw, []byte("\n")))
	}
	if bytes.Contains(raw, []byte(canary)) || bytes.Contains(raw, []byte("line 2")) {
		t.Errorf("plaintext in the CLI's history file")
	}

	send("while you were away")
	testenv.Eventually(t, 30*time.Second, 20*time.Millisecond, func() bool { return len(e.storedSeqs(t, conv.ID)) == 31 }, "31 stored")
	second := runCLI(
		[2]string{"", "the last 20 messages, from this device's history"},
		[2]string{"", "while you were away"},
		[2]string{"/search " + strings.ToUpper(canary), "🔎 [#1]"},
		[2]string{"/older", "— older: #1 to #10 —"},
	)
	if n := strings.Count(second, "while you were away"); n != 1 {
		t.Errorf("the new message shown %d times, want once", n)
	}
	if n := strings.Count(second, "line 25"); n != 1 {
		t.Errorf("a stored message shown %d times in the second run, want once (from the file, not again from the platform)", n)
	}
	if raw, _ := os.ReadFile(files[0]); bytes.Count(raw, []byte("\n")) != 31 {
		t.Errorf("history file has %d lines after the second run, want 31", bytes.Count(raw, []byte("\n")))
	}
}
