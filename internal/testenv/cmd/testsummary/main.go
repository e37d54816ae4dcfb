// Command testsummary turns `go test -json` output into a readable log and
// counts individual tests, so that the test command (tests/run.sh) can print
// one summary line over every module, fuzz target and end-to-end test.
//
//	go test -json ./... 2>&1 | testsummary [-v] [-module DIR] -counts FILE [-times TFILE]
//	testsummary -total [-times TFILE] [-label NAME] FILE...
//
// The first form reads the JSON stream on stdin, prints failures in full and
// passing packages as one line each (with -v also one line per passing test),
// appends "passed failed skipped" to FILE and each top-level test's time to
// TFILE; -module DIR shows the packages of a function module (module path
// "function") under DIR. The second form adds up such files, prints the ten slowest tests
// of TFILE, then "agentchat: N passed, N failed, N skipped" (NAME instead
// of agentchat with -label), and exits 1 when anything failed.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
)

func main() {
	verbose := flag.Bool("v", false, "print one line per passing test too")
	counts := flag.String("counts", "", "append \"passed failed skipped\" to this file")
	total := flag.Bool("total", false, "add up the counts files named as arguments and print the summary line")
	times := flag.String("times", "", "append each top-level test's time to this file; with -total, print its ten slowest")
	label := flag.String("label", "agentchat", "with -total: the summary line's first word")
	module := flag.String("module", "", "show package paths of the module \"function\" under this folder name")
	flag.Parse()

	if *total {
		sum, err := addUp(flag.Args())
		if err != nil {
			fmt.Fprintln(os.Stderr, "testsummary:", err)
			os.Exit(2)
		}
		if *times != "" {
			ts, err := readTimes(*times)
			if err != nil {
				fmt.Fprintln(os.Stderr, "testsummary:", err)
				os.Exit(2)
			}
			printSlowest(os.Stdout, ts, 10)
		}
		fmt.Println(sum.Line(*label))
		if sum.Failed > 0 {
			os.Exit(1)
		}
		return
	}

	// Unbuffered: the e2e step's progress lines must show as tests start
	// and end, not in chunks minutes later.
	r := newReport(os.Stdout, *verbose)
	r.module = *module
	err := r.Read(os.Stdin)
	r.Finish()
	if err != nil {
		fmt.Fprintln(os.Stderr, "testsummary: read:", err)
		r.counts.Failed++
	}
	if *counts != "" {
		if err := appendCounts(*counts, r.counts); err != nil {
			fmt.Fprintln(os.Stderr, "testsummary:", err)
			os.Exit(2)
		}
	}
	if *times != "" {
		if err := appendTimes(*times, r.times); err != nil {
			fmt.Fprintln(os.Stderr, "testsummary:", err)
			os.Exit(2)
		}
	}
	if r.counts.Failed > 0 {
		os.Exit(1)
	}
}

// appendCounts records one run's counts as a line of the counts file.
func appendCounts(path string, c Counts) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	_, err = io.WriteString(f, c.Record())
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
