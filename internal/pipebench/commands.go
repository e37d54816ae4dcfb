package pipebench

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/agentchat/agentchat/store"
)

// commandSnapshot is every function process's MongoDB command counts, by
// report file (one per client: store.CommandReport).
type commandSnapshot map[string]store.CommandReport

// snapshotCommands waits until every client in dir has reported counts
// taken a full report period after since (so that the commands a load
// caused, and what the functions write just after it, are in), and
// returns them. A client whose reports stop (a process that died) is
// waited for up to a bound and then taken as it last reported.
func snapshotCommands(ctx context.Context, dir string, since time.Time) (commandSnapshot, error) {
	fresh := since.Add(store.CommandReportPeriod)
	deadline := time.Now().Add(10*store.CommandReportPeriod + 5*time.Second)
	for {
		reports, err := store.ReadCommandReports(dir)
		if err != nil {
			return nil, fmt.Errorf("pipebench: %w", err)
		}
		stale := false
		for _, r := range reports {
			if r.At.Before(fresh) {
				stale = true
			}
		}
		if !stale || time.Now().After(deadline) {
			return reports, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(store.CommandReportPeriod / 2):
		}
	}
}

// commandsByApp are the counts by app (process name) and command name
// that after holds beyond before; a client absent from before counts from
// zero.
func commandsByApp(before, after commandSnapshot) map[string]map[string]int64 {
	out := map[string]map[string]int64{}
	for file, r := range after {
		m := out[r.App]
		if m == nil {
			m = map[string]int64{}
			out[r.App] = m
		}
		for name, n := range r.Commands {
			if d := n - before[file].Commands[name]; d != 0 {
				m[name] += d
			}
		}
	}
	return out
}

// totalCommands adds up every app's commands.
func totalCommands(byApp map[string]map[string]int64) int64 {
	var n int64
	for _, m := range byApp {
		for _, c := range m {
			n += c
		}
	}
	return n
}

// describeCommands is "app cmd=x.xx ..." per app, counts per message.
func describeCommands(byApp map[string]map[string]int64, messages int) string {
	var parts []string
	for _, app := range slices.Sorted(maps.Keys(byApp)) {
		var cmds []string
		for _, name := range slices.Sorted(maps.Keys(byApp[app])) {
			cmds = append(cmds, fmt.Sprintf("%s=%.2f", name, float64(byApp[app][name])/float64(max(1, messages))))
		}
		if len(cmds) == 0 {
			cmds = []string{"none"}
		}
		parts = append(parts, app+" "+strings.Join(cmds, " "))
	}
	return strings.Join(parts, "; ")
}
