package funcrunner_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/agentchat/agentchat/internal/funcrunner"
	"github.com/agentchat/agentchat/internal/testenv"
)

// deadletterBinary is a function with no dependencies to exercise the
// process lifecycle with.
func deadletterBinary(t *testing.T) string {
	t.Helper()
	bin, err := buildOnce(t, filepath.Join(repoRoot(t), "functions", "deadletter"))
	if err != nil {
		t.Fatalf("build deadletter: %v", err)
	}
	return bin
}

func ready(url string) bool {
	resp, err := http.Get(url + "/health/readiness")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func TestProcessLifecycle(t *testing.T) {
	p, out := start(t, deadletterBinary(t), "dl", map[string]string{"LOG_LEVEL": "DEBUG"})
	url, pid := p.URL(), p.Pid()
	if !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Errorf("URL = %s, want a loopback address", url)
	}
	if !ready(url) {
		t.Fatal("not ready after Start")
	}
	testenv.Eventually(t, 5*time.Second, 10*time.Millisecond, func() bool {
		return strings.Contains(out.String(), "[dl] ")
	}, "output prefixed with [dl]")

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	begin := time.Now()
	if err := p.Restart(ctx); err != nil {
		t.Fatalf("Restart: %v", err)
	}
	t.Logf("restart took %s", time.Since(begin).Round(time.Millisecond))
	if p.URL() != url || p.Pid() == pid || !ready(url) {
		t.Fatalf("after Restart: url %s pid %d ready %v; want %s, a new pid, ready", p.URL(), p.Pid(), ready(url), url)
	}

	// A crash: Kill, then the address is dead and Wait reports the signal.
	p.Kill()
	select {
	case <-p.Done():
	default:
		t.Fatal("Done not closed after Kill")
	}
	var exit *exec.ExitError
	if err := p.Wait(); !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Errorf("Wait after Kill = %v, want killed by SIGKILL", err)
	}
	if ready(url) {
		t.Error("still answering after Kill")
	}
	if err := p.Stop(ctx); err != nil {
		t.Errorf("Stop of an exited process: %v", err)
	}

	// Restart brings a crashed process back on the same address.
	if err := p.Restart(ctx); err != nil {
		t.Fatalf("Restart after Kill: %v", err)
	}
	begin = time.Now()
	if err := p.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	t.Logf("graceful stop took %s", time.Since(begin).Round(time.Millisecond))
	if err := p.Wait(); err != nil {
		t.Errorf("Wait after a graceful Stop = %v, want a clean exit", err)
	}
}

func TestStartGivenAddr(t *testing.T) {
	addr := "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := funcrunner.Start(ctx, funcrunner.StartOptions{Binary: deadletterBinary(t), Addr: addr, LogWriter: &syncBuffer{}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop(ctx)
	if got, want := p.URL(), "http://"+addr; got != want {
		t.Errorf("URL = %s, want %s", got, want)
	}

	// The address is taken now: a second process must not start there (nor
	// take the first one's readiness for its own), and Start says why.
	out := &syncBuffer{}
	begin := time.Now()
	_, err = funcrunner.Start(ctx, funcrunner.StartOptions{Binary: deadletterBinary(t), Addr: addr, LogWriter: out})
	if err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Errorf("second Start on %s: %v, want address already in use", addr, err)
	}
	if took := time.Since(begin); took > 10*time.Second {
		t.Errorf("failing Start took %s", took)
	}
}

func TestStartNotReadyInTime(t *testing.T) {
	// media without any S3 configuration exits at once: Start must say why.
	// With an S3 and a MongoDB that never answer it stays unready: Start
	// must give up at ctx's deadline and leave no process behind.
	bin, err := buildOnce(t, filepath.Join(repoRoot(t), "functions", "media"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = funcrunner.Start(context.Background(), funcrunner.StartOptions{Binary: bin, LogWriter: &syncBuffer{}})
	if err == nil || !strings.Contains(err.Error(), "exited before ready") || !strings.Contains(err.Error(), "S3_ENDPOINT") {
		t.Errorf("Start without config = %v, want an early exit that shows the config error", err)
	}

	l, err := net.Listen("tcp", "127.0.0.1:0") // accepts, never answers
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err = funcrunner.Start(ctx, funcrunner.StartOptions{Binary: bin, LogWriter: &syncBuffer{}, Env: map[string]string{
		"S3_ENDPOINT": l.Addr().String(), "S3_ACCESS_KEY": "a", "S3_SECRET_KEY": "b",
		"MONGODB_URI": "mongodb://" + l.Addr().String() + "/?connectTimeoutMS=60000&serverSelectionTimeoutMS=60000",
	}})
	if err == nil || !strings.Contains(err.Error(), "not ready") {
		t.Fatalf("Start = %v, want a not-ready error", err)
	}
}

// TestChildDiesWithParent starts a function from a helper process (this
// test binary again), kills the helper with SIGKILL, and expects the
// function to be gone too.
func TestChildDiesWithParent(t *testing.T) {
	if os.Getenv("FUNCRUNNER_HELPER_BINARY") != "" {
		t.Skip("helper mode")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperParent$")
	cmd.Env = append(os.Environ(), "FUNCRUNNER_HELPER_BINARY="+deadletterBinary(t))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var childPid int
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if _, err := fmt.Sscanf(sc.Text(), "child pid %d", &childPid); err == nil {
			break
		}
	}
	if childPid == 0 {
		t.Fatal("helper did not report its child")
	}
	if !alive(childPid) {
		t.Fatal("child not running while the helper lives")
	}
	cmd.Process.Kill()
	cmd.Wait()
	testenv.Eventually(t, 5*time.Second, 10*time.Millisecond, func() bool { return !alive(childPid) },
		"function process %d to die with its parent", childPid)
}

// TestHelperParent is the helper of TestChildDiesWithParent.
func TestHelperParent(t *testing.T) {
	bin := os.Getenv("FUNCRUNNER_HELPER_BINARY")
	if bin == "" {
		t.Skip("only run by TestChildDiesWithParent")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := funcrunner.Start(ctx, funcrunner.StartOptions{Binary: bin, LogWriter: &syncBuffer{}})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("child pid %d\n", p.Pid())
	time.Sleep(time.Hour) // until killed
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(raw)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// A process that outlives its grace after SIGTERM is made to write its
// goroutines (SIGQUIT), then killed, and Stop says so: the log tells what
// it was waiting for.
func TestStopDumpsAndKillsAfterGrace(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "stubborn")
	body := "#!/bin/sh\nexec \"$STUBBORN_TEST_BINARY\" -test.run='^TestHelperStubborn$'\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out := &syncBuffer{}
	p, err := funcrunner.Start(ctx, funcrunner.StartOptions{Binary: script, Name: "stubborn", LogWriter: out,
		Env: map[string]string{"STUBBORN_TEST_BINARY": os.Args[0], "FUNCRUNNER_STUBBORN": "1"}, StopGrace: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	err = p.Stop(ctx)
	if err == nil || !strings.Contains(err.Error(), "no exit within 100ms of SIGTERM: killed") {
		t.Errorf("Stop = %v, want it to report the kill", err)
	}
	select {
	case <-p.Done():
	default:
		t.Error("Stop returned before the process exited")
	}
	if s := out.String(); !strings.Contains(s, "SIGQUIT") || !strings.Contains(s, "TestHelperStubborn") {
		t.Errorf("no goroutine dump in the output:\n%s", s)
	}
}

// TestHelperStubborn is the process of TestStopDumpsAndKillsAfterGrace: it
// serves readiness and ignores SIGTERM.
func TestHelperStubborn(t *testing.T) {
	if os.Getenv("FUNCRUNNER_STUBBORN") != "1" {
		t.Skip("only run by TestStopDumpsAndKillsAfterGrace")
	}
	signal.Ignore(syscall.SIGTERM)
	ln, err := net.Listen("tcp", os.Getenv("LISTEN_ADDRESS"))
	if err != nil {
		t.Fatal(err)
	}
	http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("READY")) }))
}
