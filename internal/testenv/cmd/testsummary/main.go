// Command testsummary turns `go test -json` output into a readable log and
// counts individual tests, so that the test command (tests/run.sh) can print
// one summary line over every module, fuzz target and end-to-end test.
//
//	go test -json ./... 2>&1 | testsummary [-v] -counts FILE
//	testsummary -total FILE...
//
// The first form reads the JSON stream on stdin, prints failures in full and
// passing packages as one line each (with -v also one line per passing test),
// and appends "passed failed skipped" to FILE. The second form adds up such
// files, prints "agentchat: N passed, N failed, N skipped" and exits 1
// when anything failed.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
)

func main() {
	verbose := flag.Bool("v", false, "print one line per passing test too")
	counts := flag.String("counts", "", "append \"passed failed skipped\" to this file")
	total := flag.Bool("total", false, "add up the counts files named as arguments and print the summary line")
	flag.Parse()

	if *total {
		sum, err := addUp(flag.Args())
		if err != nil {
			fmt.Fprintln(os.Stderr, "testsummary:", err)
			os.Exit(2)
		}
		fmt.Println(sum.Line())
		if sum.Failed > 0 {
			os.Exit(1)
		}
		return
	}

	out := bufio.NewWriter(os.Stdout)
	r := newReport(out, *verbose)
	err := r.Read(os.Stdin)
	r.Finish()
	out.Flush()
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
