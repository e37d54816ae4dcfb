package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"image/jpeg"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/agentchat/agentchat/internal/testenv"
	"github.com/agentchat/agentchat/sdk/client"
)

// TestCLIMedia runs the terminal client (cmd/chat, built here) as Alice in
// a group with Bob on the Go client: "/send PATH" sends a photo, which Bob
// downloads and opens (its SHA-256 is the file's; the CLI made a JPEG
// thumbnail); Bob sends a file back, the CLI shows its name and size with
// the /save command, and "/save N DIR" writes exactly the bytes Bob sent.
func TestCLIMedia(t *testing.T) {
	e := start(t, opts{functions: mediaFunctions})
	if e.s3.Bucket == "" {
		testenv.Missing(t, "media needs the test S3 service ("+testenv.EnvS3Endpoint+")")
	}
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
	wb := watch(cb)
	conv, err := bob.sess.CreateConversation(ctx, "group", []string{bob.id, alice.id}, "cli")
	if err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	photo := pngOf(t, 640, 480, false)
	photoPath := filepath.Join(dir, "garden.png")
	if err := os.WriteFile(photoPath, photo, 0o600); err != nil {
		t.Fatal(err)
	}
	saveDir := filepath.Join(dir, "downloads")
	if err := os.Mkdir(saveDir, 0o700); err != nil {
		t.Fatal(err)
	}

	cli := exec.CommandContext(ctx, bin, "-accounts", e.p.AccountsURL(), "-connector", e.p.ConnectorURLs()[0],
		"-user", alice.name, "-password", "correct horse battery", "-conv", conv.ID, "-state", t.TempDir())
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
		stdin.Close()
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			cli.Process.Kill()
		}
		if t.Failed() {
			t.Logf("the CLI's output:\n%s", out)
		}
	}()
	testenv.Eventually(t, 30*time.Second, 20*time.Millisecond, func() bool {
		return strings.Contains(out.String(), "type to send")
	}, "the CLI opens the conversation")

	// Alice → the group: /send.
	fmt.Fprintf(stdin, "/send %s\n", photoPath)
	got := waitMedia(t, wb, conv.ID, alice.id, 1)[0].Content.Media
	if got.Name != "garden.png" || got.Type != "image/png" || got.Width != 640 || got.Height != 480 {
		t.Errorf("the CLI's photo: %q, %q, %dx%d; want garden.png, image/png, 640x480", got.Name, got.Type, got.Width, got.Height)
	}
	if cfg, err := jpeg.DecodeConfig(bytes.NewReader(got.Thumbnail)); err != nil || cfg.Width > 320 {
		t.Errorf("the CLI's thumbnail: %v (%d bytes, %d px wide), want a JPEG within 320 px", err, len(got.Thumbnail), cfg.Width)
	}
	data, err := cb.Download(ctx, conv.ID, got)
	if err != nil || sha256.Sum256(data) != sha256.Sum256(photo) {
		t.Fatalf("bob's download of the CLI's photo: %d bytes, %v; want the photo", len(data), err)
	}

	// Bob → the group: the CLI shows the file and /save writes it.
	notes := bytes.Repeat([]byte("minutes of the meeting\n"), 3000)
	if _, _, err := cb.SendFile(ctx, conv.ID, notes, client.File{Name: "notes.txt", Type: "text/plain"}); err != nil {
		t.Fatal(err)
	}
	saveCmd := regexp.MustCompile(`bob[^:]*: 📎 notes\.txt \(67\.4 KB, text/plain\) — /save (\d+)`)
	var seq string
	testenv.Eventually(t, 30*time.Second, 20*time.Millisecond, func() bool {
		if m := saveCmd.FindStringSubmatch(out.String()); m != nil {
			seq = m[1]
			return true
		}
		return false
	}, "the CLI shows bob's file with its /save command")
	fmt.Fprintf(stdin, "/save %s %s\n", seq, saveDir)
	saved := filepath.Join(saveDir, "notes.txt")
	testenv.Eventually(t, 30*time.Second, 20*time.Millisecond, func() bool {
		return strings.Contains(out.String(), "saved "+saved)
	}, "the CLI saves bob's file")
	if b, err := os.ReadFile(saved); err != nil || !bytes.Equal(b, notes) {
		t.Errorf("the saved file: %d bytes, %v; want the %d bytes bob sent", len(b), err, len(notes))
	}
	// A second /save never overwrites: it picks another name.
	fmt.Fprintf(stdin, "/save %s %s\n", seq, saveDir)
	testenv.Eventually(t, 30*time.Second, 20*time.Millisecond, func() bool {
		return strings.Contains(out.String(), "saved "+filepath.Join(saveDir, "notes (1).txt"))
	}, "a second save under another name")
	fmt.Fprintln(stdin, "/quit")
}
