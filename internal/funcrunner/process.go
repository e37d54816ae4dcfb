package funcrunner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// StartOptions says how to run a built function.
type StartOptions struct {
	// Binary is what Build returned.
	Binary string
	// Name prefixes every line of output as "[Name] "; "" means the
	// binary's file name.
	Name string
	// Env is the function's configuration. The process gets only this on
	// top of a minimal base (PATH, HOME, TMPDIR, TZ, LANG, SSL_CERT_FILE,
	// SSL_CERT_DIR, GODEBUG), as a pod would, plus LISTEN_ADDRESS.
	Env map[string]string
	// Addr is the host:port to listen on; "" picks a free 127.0.0.1 port.
	Addr string
	// LogWriter receives the prefixed output; nil means os.Stderr.
	LogWriter io.Writer
	// ReadyPath is polled until it answers 200; "" means func-go's
	// /health/readiness. Other long-running processes (the connector) use
	// their own.
	ReadyPath string
	// StopGrace is how long Stop waits after SIGTERM before SIGKILL;
	// 0 means 10s.
	StopGrace time.Duration
}

// DefaultReadyTimeout bounds Start and Restart when ctx has no deadline.
const DefaultReadyTimeout = time.Minute

// baseEnv lists the variables a function inherits from its parent.
var baseEnv = []string{"PATH", "HOME", "TMPDIR", "TZ", "LANG", "SSL_CERT_FILE", "SSL_CERT_DIR", "GODEBUG"}

// errAddrInUse marks a start that failed because the port was taken
// between choosing it and the child binding it.
var errAddrInUse = errors.New("address already in use")

// Process is a running function. Its methods may be called from any
// goroutine.
type Process struct {
	opts StartOptions
	addr string
	out  *output

	mu  sync.Mutex // guards run
	run *run
}

// run is one life of the process, from fork to exit.
type run struct {
	pid  int
	done chan struct{} // closed once the process has exited and err is set
	err  error         // what Wait returned
}

// Start runs o.Binary as its own process group and returns once
// GET /health/readiness answers 200. The process is killed if its parent
// dies (Pdeathsig), if ctx ends before it is ready, or if it exits first;
// the error then carries the last lines it wrote.
func Start(ctx context.Context, o StartOptions) (*Process, error) {
	if o.Binary == "" {
		return nil, errors.New("funcrunner: start: no binary")
	}
	if o.Name == "" {
		o.Name = filepath.Base(o.Binary)
	}
	if o.LogWriter == nil {
		o.LogWriter = os.Stderr
	}
	if o.StopGrace == 0 {
		o.StopGrace = 10 * time.Second
	}
	p := &Process{opts: o, out: &output{w: o.LogWriter, prefix: "[" + o.Name + "] "}}
	for attempt := 1; ; attempt++ {
		p.addr = o.Addr
		if o.Addr == "" {
			addr, err := freeAddr()
			if err != nil {
				return nil, fmt.Errorf("funcrunner: %s: %w", o.Name, err)
			}
			p.addr = addr
		}
		err := p.start(ctx)
		if err == nil {
			return p, nil
		}
		if o.Addr != "" || attempt == 3 || !errors.Is(err, errAddrInUse) {
			return nil, err
		}
	}
}

// URL is the function's base URL, e.g. http://127.0.0.1:40123.
func (p *Process) URL() string {
	host, port, _ := net.SplitHostPort(p.addr)
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// Addr is the address the process listens on.
func (p *Process) Addr() string { return p.addr }

// Name is the process's log prefix.
func (p *Process) Name() string { return p.opts.Name }

// Pid is the process id of the current run.
func (p *Process) Pid() int { return p.current().pid }

// Done is closed when the current run of the process exits.
func (p *Process) Done() <-chan struct{} { return p.current().done }

// Wait waits for the current run to exit and returns how it ended.
func (p *Process) Wait() error {
	r := p.current()
	<-r.done
	return r.err
}

// dumpWait is how long Stop gives a process that outlived its grace to
// write its goroutines (SIGQUIT) before SIGKILL.
const dumpWait = 2 * time.Second

// Stop sends SIGTERM to the process group and waits for it to exit. After
// StopGrace (or when ctx ends first) it sends SIGQUIT, so that a Go
// process writes every goroutine's stack to its log — what it was waiting
// for — then SIGKILL, and reports that it had to. Stopping an exited
// process does nothing.
func (p *Process) Stop(ctx context.Context) error {
	r := p.current()
	select {
	case <-r.done:
		return nil
	default:
	}
	signalGroup(r.pid, syscall.SIGTERM)
	timer := time.NewTimer(p.opts.StopGrace)
	defer timer.Stop()
	var why string
	select {
	case <-r.done:
		return nil
	case <-timer.C:
		why = fmt.Sprintf("no exit within %s of SIGTERM", p.opts.StopGrace)
	case <-ctx.Done():
		why = ctx.Err().Error()
	}
	signalGroup(r.pid, syscall.SIGQUIT)
	select {
	case <-r.done:
	case <-time.After(dumpWait):
		signalGroup(r.pid, syscall.SIGKILL)
		<-r.done
	}
	return fmt.Errorf("funcrunner: %s: stop: %s: killed (its goroutines are in its log)", p.opts.Name, why)
}

// Kill sends SIGKILL to the process group and waits for the exit: a crash,
// for chaos tests.
func (p *Process) Kill() {
	r := p.current()
	signalGroup(r.pid, syscall.SIGKILL)
	<-r.done
}

// Restart stops the process (as Stop does) and starts the same binary
// again on the same address with the same environment, returning once it
// is ready.
func (p *Process) Restart(ctx context.Context) error {
	if err := p.Stop(ctx); err != nil && ctx.Err() != nil {
		return err
	}
	return p.start(ctx)
}

func (p *Process) current() *run {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.run
}

// start forks a new run and waits until it is ready, killing it on failure.
// The address is checked first: were another server on it, its readiness
// answer would pass for ours.
func (p *Process) start(ctx context.Context) error {
	l, err := net.Listen("tcp", p.addr)
	if err != nil {
		return fmt.Errorf("funcrunner: %s: %w: %v", p.opts.Name, errAddrInUse, err)
	}
	l.Close()
	r, err := p.spawn()
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.run = r
	p.mu.Unlock()
	if err := p.waitReady(ctx, r); err != nil {
		signalGroup(r.pid, syscall.SIGKILL)
		<-r.done
		return err
	}
	return nil
}

// spawn forks the binary from a goroutine locked to its OS thread for the
// child's whole life: Pdeathsig fires when the forking *thread* exits, and
// the lock guarantees that is never before the parent process itself ends.
func (p *Process) spawn() (*run, error) {
	cmd := exec.Command(p.opts.Binary)
	cmd.Dir = filepath.Dir(p.opts.Binary) // func-go reads ./cfg: none there
	cmd.Env = p.env()
	stdout, stderr := p.out.stream(), p.out.stream()
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.SysProcAttr = sysProcAttr()
	cmd.WaitDelay = 2 * time.Second // do not hang on pipes a grandchild holds

	r := &run{done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			r.err = err
			close(r.done)
			started <- err
			return
		}
		r.pid = cmd.Process.Pid
		started <- nil
		r.err = cmd.Wait()
		stdout.flush()
		stderr.flush()
		close(r.done)
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("funcrunner: %s: %w", p.opts.Name, err)
	}
	return r, nil
}

func (p *Process) env() []string {
	var env []string
	for _, k := range baseEnv {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	keys := make([]string, 0, len(p.opts.Env))
	for k := range p.opts.Env {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		env = append(env, k+"="+p.opts.Env[k])
	}
	return append(env, "LISTEN_ADDRESS="+p.addr) // last wins
}

// waitReady polls the readiness route until it answers 200, the run
// exits, or ctx (or DefaultReadyTimeout) ends.
func (p *Process) waitReady(ctx context.Context, r *run) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultReadyTimeout)
		defer cancel()
	}
	client := &http.Client{Timeout: 2 * time.Second}
	path := p.opts.ReadyPath
	if path == "" {
		path = "/health/readiness"
	}
	url := p.URL() + path
	last := "no answer"
	for delay := 10 * time.Millisecond; ; delay = min(delay*3/2, 250*time.Millisecond) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := client.Do(req)
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = fmt.Sprintf("%d %s", resp.StatusCode, strings.TrimSpace(string(body)))
		}
		select {
		case <-r.done:
			tail := p.out.Tail()
			err := fmt.Errorf("funcrunner: %s: exited before ready (%v); last output:\n%s", p.opts.Name, r.err, tail)
			if strings.Contains(tail, "address already in use") {
				err = fmt.Errorf("%w: %w", errAddrInUse, err)
			}
			return err
		case <-ctx.Done():
			return fmt.Errorf("funcrunner: %s: not ready at %s (%v; readiness: %s); last output:\n%s",
				p.opts.Name, url, ctx.Err(), last, p.out.Tail())
		case <-time.After(delay):
		}
	}
}

// freeAddr returns a loopback address whose port was free a moment ago.
// The child binds it itself, so a race with another process is possible;
// Start retries on "address already in use".
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// signalGroup signals the process group led by pid; a group that is
// already gone is not an error.
func signalGroup(pid int, sig syscall.Signal) {
	if pid > 0 {
		syscall.Kill(-pid, sig)
	}
}
