package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
)

// Timing is how long one top-level test (or fuzz target) ran.
type Timing struct {
	Seconds float64
	Package string
	Test    string
}

// Record is the times file form: "seconds<TAB>package<TAB>test\n".
func (t Timing) Record() string {
	return fmt.Sprintf("%.2f\t%s\t%s\n", t.Seconds, t.Package, t.Test)
}

// appendTimes adds the timings to the times file at path in one write, so
// that test runs side by side (the test command runs some) never interleave
// their lines.
func appendTimes(path string, ts []Timing) error {
	var b strings.Builder
	for _, t := range ts {
		b.WriteString(t.Record())
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	_, err = f.WriteString(b.String())
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// readTimes reads a times file; a missing file holds none.
func readTimes(path string) ([]Timing, error) {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var ts []Timing
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), "\t", 3)
		if len(parts) != 3 {
			return nil, fmt.Errorf("%s: bad line %q", path, sc.Text())
		}
		s, err := strconv.ParseFloat(parts[0], 64)
		if err != nil {
			return nil, fmt.Errorf("%s: bad line %q", path, sc.Text())
		}
		ts = append(ts, Timing{s, parts[1], parts[2]})
	}
	return ts, sc.Err()
}

// printSlowest prints the n slowest timings, slowest first.
func printSlowest(w io.Writer, ts []Timing, n int) {
	if len(ts) == 0 {
		return
	}
	ts = slices.Clone(ts)
	slices.SortStableFunc(ts, func(a, b Timing) int {
		if a.Seconds != b.Seconds {
			if a.Seconds > b.Seconds {
				return -1
			}
			return 1
		}
		return 0
	})
	ts = ts[:min(n, len(ts))]
	fmt.Fprintf(w, "the %d slowest tests:\n", len(ts))
	for _, t := range ts {
		fmt.Fprintf(w, "  %8s  %s %s\n", formatSeconds(t.Seconds), t.Package, t.Test)
	}
}

// formatSeconds is "7.3s" under a minute, else "4m12s".
func formatSeconds(s float64) string {
	if s < 60 {
		return strconv.FormatFloat(s, 'f', 1, 64) + "s"
	}
	n := int(s + 0.5)
	return fmt.Sprintf("%dm%02ds", n/60, n%60)
}
