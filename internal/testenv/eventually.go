package testenv

import (
	"fmt"
	"testing"
	"time"
)

// Eventually calls cond every tick until it returns true, and fails the test
// if that has not happened within timeout. Use it instead of sleeping for
// "long enough"; msgAndArgs, if any, is a format string and its arguments
// that say what was awaited. It must be called from the test's goroutine.
func Eventually(t testing.TB, timeout, tick time.Duration, cond func() bool, msgAndArgs ...any) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("testenv: condition not met within %v%s", timeout, describe(msgAndArgs))
			return
		}
		time.Sleep(tick)
	}
}

func describe(msgAndArgs []any) string {
	if len(msgAndArgs) == 0 {
		return ""
	}
	if format, ok := msgAndArgs[0].(string); ok {
		return ": " + fmt.Sprintf(format, msgAndArgs[1:]...)
	}
	return ": " + fmt.Sprint(msgAndArgs...)
}
