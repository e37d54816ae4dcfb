package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// CommandCountsDirEnv names a directory into which every MongoDB client
// that counts its commands (OpenMongo, or mongo.Connect with
// CountCommands) reports them, so that a benchmark can add up what every
// function process asks of the storage (make bench-pipeline). Each client
// writes its own file, <app>-<pid>-<n>.json holding a CommandReport, every
// CommandReportPeriod and when it is closed (OpenMongo's Close). Unset or
// empty: nothing is written. The directory must exist.
const CommandCountsDirEnv = "STORE_COMMAND_COUNTS_DIR"

// CommandReportPeriod is how often a client rewrites its report.
const CommandReportPeriod = 200 * time.Millisecond

// CommandReport is one client's report: every command it has sent since
// it was opened, by name, as counted At.
type CommandReport struct {
	App      string           `json:"app"`
	PID      int              `json:"pid"`
	At       time.Time        `json:"at"`
	Commands map[string]int64 `json:"commands"`
}

// CountCommands returns client options that count every command the
// client sends (handshakes and heartbeats excluded) and report the counts
// into $STORE_COMMAND_COUNTS_DIR when that is set; app names the process
// in the report. It is for functions that open their MongoDB client
// themselves; OpenMongo counts already.
//
// It sets the client's command Monitor: pass it to mongo.Connect before
// any option of the caller's own that sets one (the last Monitor wins, and
// then nothing is counted). A client opened this way has no Close hook:
// its report is rewritten every CommandReportPeriod for the life of the
// process.
func CountCommands(app string) *options.ClientOptions {
	c := newCommandCounts(app)
	return options.Client().SetMonitor(&event.CommandMonitor{Started: c.started})
}

// ReadCommandReports reads every report in dir, by file name. A file that
// is not a report is an error; a missing dir reads as no reports.
func ReadCommandReports(dir string) (map[string]CommandReport, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	out := make(map[string]CommandReport, len(names))
	for _, name := range names {
		b, err := os.ReadFile(name)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("store: command report: %w", err)
		}
		var r CommandReport
		if err := json.Unmarshal(b, &r); err != nil {
			return nil, fmt.Errorf("store: command report %s: %w", filepath.Base(name), err)
		}
		out[filepath.Base(name)] = r
	}
	return out, nil
}

// commandCounts counts started commands by name and, when
// CommandCountsDirEnv is set, reports them.
type commandCounts struct {
	m sync.Map // name → *atomic.Int64

	app  string
	file string // "" when not reporting
	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// reporters numbers the counting clients of this process (file names).
var reporters atomic.Int64

func newCommandCounts(app string) *commandCounts {
	c := &commandCounts{app: app}
	dir := os.Getenv(CommandCountsDirEnv)
	if dir == "" {
		return c
	}
	name := strings.Map(func(r rune) rune {
		if r == '/' || r == os.PathSeparator || r == '.' {
			return '_'
		}
		return r
	}, app)
	c.file = filepath.Join(dir, fmt.Sprintf("%s-%d-%d.json", name, os.Getpid(), reporters.Add(1)))
	c.stop, c.done = make(chan struct{}), make(chan struct{})
	c.report()
	go c.reportEvery(CommandReportPeriod)
	return c
}

// notCounted are the driver's own connection upkeep, not work asked of
// the storage by the platform.
var notCounted = map[string]bool{"hello": true, "isMaster": true, "ismaster": true,
	"saslStart": true, "saslContinue": true, "ping": true, "endSessions": true, "killCursors": true}

func (c *commandCounts) started(_ context.Context, e *event.CommandStartedEvent) {
	if notCounted[e.CommandName] {
		return
	}
	v, ok := c.m.Load(e.CommandName)
	if !ok {
		v, _ = c.m.LoadOrStore(e.CommandName, new(atomic.Int64))
	}
	v.(*atomic.Int64).Add(1)
}

func (c *commandCounts) snapshot() map[string]int64 {
	out := map[string]int64{}
	c.m.Range(func(k, v any) bool {
		out[k.(string)] = v.(*atomic.Int64).Load()
		return true
	})
	return out
}

func (c *commandCounts) reportEvery(period time.Duration) {
	defer close(c.done)
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			c.report()
			return
		case <-t.C:
			c.report()
		}
	}
}

// report writes the counts to c.file, whole (a reader never sees half a
// report): a temporary file renamed over it. Failures are ignored: the
// report is a diagnostic, and the next period tries again.
func (c *commandCounts) report() {
	b, err := json.Marshal(CommandReport{App: c.app, PID: os.Getpid(), At: time.Now(), Commands: c.snapshot()})
	if err != nil {
		return
	}
	tmp, err := os.CreateTemp(filepath.Dir(c.file), ".report-*")
	if err != nil {
		return
	}
	_, err = tmp.Write(b)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), c.file)
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
}

// close writes the last report and stops reporting; later calls do nothing.
func (c *commandCounts) close() {
	if c.file == "" {
		return
	}
	c.once.Do(func() {
		close(c.stop)
		<-c.done
	})
}
