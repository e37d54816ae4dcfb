package backing

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// minioAccessKey is the root user of a MinIO this package starts; its
// password is random, kept in the data dir so a kept data dir keeps working.
const minioAccessKey = "agentchat"

// minioBinary finds the MinIO server: the configured path, the project's
// cache (where make minio and tests/run.sh install it), or PATH. "" means
// none.
func minioBinary(configured string) string {
	if configured != "" {
		return configured
	}
	cache := os.Getenv("AGENTCHAT_CACHE")
	if cache == "" {
		if home, err := os.UserHomeDir(); err == nil {
			cache = filepath.Join(home, ".cache", "agentchat")
		}
	}
	if cache != "" {
		if p := filepath.Join(cache, "bin", "minio"); isExecutable(p) {
			return p
		}
	}
	if p, err := exec.LookPath("minio"); err == nil {
		return p
	}
	return ""
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// startMinIO runs `minio server dir` on free loopback ports and waits until
// it answers /minio/health/live. A port taken between choosing and binding
// it is retried on another.
func startMinIO(ctx context.Context, bin, dir string) (S3, func() error, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return S3{}, nil, fmt.Errorf("backing: minio dir: %w", err)
	}
	secret, err := minioSecret(filepath.Join(dir, ".agentchat-root-password"))
	if err != nil {
		return S3{}, nil, err
	}
	for attempt := 1; ; attempt++ {
		s3 := S3{AccessKey: minioAccessKey, SecretKey: secret}
		if s3.Endpoint, err = freeAddr(); err == nil {
			s3.Console, err = freeAddr()
		}
		if err != nil {
			return S3{}, nil, fmt.Errorf("backing: minio: %w", err)
		}
		p, err := spawnMinIO(bin, dir, s3)
		if err != nil {
			return S3{}, nil, err
		}
		err = p.waitLive(ctx, "http://"+s3.Endpoint+"/minio/health/live")
		if err == nil {
			return s3, p.stop, nil
		}
		p.stop()
		if attempt == 3 || !strings.Contains(err.Error(), "address already in use") {
			return S3{}, nil, err
		}
	}
}

// minioSecret reads the root password kept at path, or makes and keeps one.
func minioSecret(path string) (string, error) {
	if b, err := os.ReadFile(path); err == nil && len(bytes.TrimSpace(b)) >= 8 {
		return string(bytes.TrimSpace(b)), nil
	}
	b := make([]byte, 16)
	rand.Read(b)
	secret := hex.EncodeToString(b)
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("backing: minio password: %w", err)
	}
	return secret, nil
}

// process is one running server this package started (MinIO, Jaeger).
type process struct {
	name string // for error messages
	cmd  *exec.Cmd
	log  string        // its output file
	done chan struct{} // closed when it has exited
	err  error         // what Wait returned
}

// spawnMinIO starts the MinIO server (see spawn).
func spawnMinIO(bin, dir string, s3 S3) (*process, error) {
	cmd := exec.Command(bin, "server", dir, "--address", s3.Endpoint, "--console-address", s3.Console, "--quiet")
	cmd.Env = append(os.Environ(),
		"MINIO_ROOT_USER="+s3.AccessKey,
		"MINIO_ROOT_PASSWORD="+s3.SecretKey,
		"MINIO_UPDATE=off",
	)
	return spawn("minio", filepath.Join(filepath.Dir(dir), "minio.log"), cmd)
}

// spawn starts cmd, its output to logPath, from a goroutine locked to its OS
// thread for the child's whole life: Pdeathsig (on Linux) fires when the
// forking thread exits, and the lock means that is not before this process
// ends. So a dev runner that crashes does not leave the server behind.
func spawn(name, logPath string, cmd *exec.Cmd) (*process, error) {
	out, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("backing: %s log: %w", name, err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = sysProcAttr()
	p := &process{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		defer out.Close()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		p.err = cmd.Wait()
		close(p.done)
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("backing: start %s %s: %w", name, cmd.Path, err)
	}
	return p, nil
}

// waitLive polls url until it answers 200, the process exits, or a minute
// (or ctx) runs out.
func (p *process) waitLive(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-p.done:
			return fmt.Errorf("backing: %s exited (%v): %s", p.name, p.err, p.tail())
		case <-ctx.Done():
			return fmt.Errorf("backing: %s not live at %s: %w: %s", p.name, url, ctx.Err(), p.tail())
		case <-tick.C:
		}
	}
}

// tail is the last lines the server wrote, for an error message.
func (p *process) tail() string {
	b, _ := os.ReadFile(p.log)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 5 {
		lines = lines[len(lines)-5:]
	}
	return strings.Join(lines, " | ")
}

// stop asks the server to exit (SIGTERM), and kills its process group after 10 s.
func (p *process) stop() error {
	select {
	case <-p.done:
		return nil
	default:
	}
	signalGroup(p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
		return nil
	case <-time.After(10 * time.Second):
		signalGroup(p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
		return fmt.Errorf("backing: %s did not stop within 10s: killed", p.name)
	}
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
