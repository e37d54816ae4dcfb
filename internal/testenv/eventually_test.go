package testenv

import (
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fakeTB records a Fatalf instead of stopping the goroutine, to test the
// helpers' failure paths.
type fakeTB struct {
	testing.TB
	name  string
	fatal string
}

func (f *fakeTB) Helper()      {}
func (f *fakeTB) Name() string { return f.name }
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.fatal = fmt.Sprintf(format, args...)
}

func TestEventually(t *testing.T) {
	n := 0
	Eventually(t, time.Second, time.Millisecond, func() bool { n++; return n == 3 })
	if got, want := n, 3; got != want {
		t.Errorf("cond called %d times, want %d", got, want)
	}

	f := &fakeTB{TB: t}
	start := time.Now()
	Eventually(f, 20*time.Millisecond, time.Millisecond, func() bool { return false }, "delivery to %s", "dev1")
	if !strings.Contains(f.fatal, "within 20ms: delivery to dev1") {
		t.Errorf("Fatalf message = %q", f.fatal)
	}
	if elapsed := time.Since(start); elapsed < 20*time.Millisecond {
		t.Errorf("gave up after %v, before the timeout", elapsed)
	}
}

func TestUnique(t *testing.T) {
	tests := []struct {
		name string
		sep  byte
		max  int
		want string // pattern
	}{
		{"TestPersist/dedupe_by_key", '-', 48, `^testpersist-dedupe-by-key-[0-9a-f]{8}$`},
		{"TestX/#00", '_', 58, `^testx_00_[0-9a-f]{8}$`},
		{"Test" + strings.Repeat("Long", 30), '-', 61, `^testlong[a-z-]*-[0-9a-f]{8}$`},
		{"!!!", '-', 20, `^[0-9a-f]{8}$`},
	}
	for _, tt := range tests {
		got := unique(&fakeTB{TB: t, name: tt.name}, tt.sep, tt.max)
		if !regexp.MustCompile(tt.want).MatchString(got) || len(got) > tt.max {
			t.Errorf("unique(%q) = %q, want %s and at most %d bytes", tt.name, got, tt.want, tt.max)
		}
	}
}

func TestFreePort(t *testing.T) {
	p := FreePort(t)
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
	if err != nil {
		t.Fatalf("listen on the free port %d: %v", p, err)
	}
	l.Close()
}
