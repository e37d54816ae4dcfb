package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"
)

// Counts are individual test outcomes. A test with subtests counts through
// its subtests only, unless it failed on its own; a package that fails
// without a failing test (a build or vet error, a panic in TestMain, a
// timeout) counts as one failure.
type Counts struct {
	Passed, Failed, Skipped int
}

// Add returns the sum of c and d.
func (c Counts) Add(d Counts) Counts {
	return Counts{c.Passed + d.Passed, c.Failed + d.Failed, c.Skipped + d.Skipped}
}

// Line is the one summary line of the whole test command (label
// "agentchat"), or of a part of it.
func (c Counts) Line(label string) string {
	return fmt.Sprintf("%s: %d passed, %d failed, %d skipped", label, c.Passed, c.Failed, c.Skipped)
}

// Record is the counts file form: "passed failed skipped\n".
func (c Counts) Record() string {
	return fmt.Sprintf("%d %d %d\n", c.Passed, c.Failed, c.Skipped)
}

// addUp sums every line of every counts file. A missing file counts as
// nothing: a step that never ran has already been reported by the script.
func addUp(paths []string) (Counts, error) {
	var sum Counts
	for _, p := range paths {
		f, err := os.Open(p)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return sum, err
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if line == "" {
				continue
			}
			var c Counts
			if _, err := fmt.Sscanf(line, "%d %d %d", &c.Passed, &c.Failed, &c.Skipped); err != nil {
				f.Close()
				return sum, fmt.Errorf("%s: bad line %q", p, line)
			}
			sum = sum.Add(c)
		}
		err = sc.Err()
		f.Close()
		if err != nil {
			return sum, err
		}
	}
	return sum, nil
}
