package testenv

import (
	"fmt"
	"strings"
	"testing"
)

// endTB records how a helper ended a test: Fatalf and Skipf stop the
// helper as the real ones do (here by a panic that ends runs).
type endTB struct {
	testing.TB
	ended string // "fatal: ..." or "skip: ..."
}

type stop struct{}

func (f *endTB) Helper() {}
func (f *endTB) Fatalf(format string, args ...any) {
	f.ended = "fatal: " + fmt.Sprintf(format, args...)
	panic(stop{})
}
func (f *endTB) Skipf(format string, args ...any) {
	f.ended = "skip: " + fmt.Sprintf(format, args...)
	panic(stop{})
}

// runs calls fn with a endTB and returns how it ended ("" if it returned).
func runs(fn func(t testing.TB)) (ended string) {
	f := &endTB{}
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(stop); !ok {
				panic(r)
			}
		}
		ended = f.ended
	}()
	fn(f)
	return f.ended
}

func TestMissingSkipsByHandAndFailsInCI(t *testing.T) {
	const unset = "AGENTCHAT_TEST_SURELY_UNSET_VARIABLE"
	t.Setenv(unset, "")
	for _, c := range []struct {
		ci, want string
	}{{"", "skip: "}, {"false", "skip: "}, {"true", "fatal: "}} {
		t.Setenv("CI", c.ci)
		for name, fn := range map[string]func(testing.TB){
			"Env":     func(tb testing.TB) { Env(tb, unset) },
			"Tool":    func(tb testing.TB) { Tool(tb, "agentchat-no-such-program") },
			"Missing": func(tb testing.TB) { Missing(tb, "the %s", "thing") },
		} {
			got := runs(fn)
			if !strings.HasPrefix(got, c.want) {
				t.Errorf("CI=%q: %s ended the test with %q, want %q...", c.ci, name, got, c.want)
			}
		}
	}
}

func TestEnvAndToolReturnWhatIsThere(t *testing.T) {
	t.Setenv("CI", "true")
	t.Setenv("AGENTCHAT_TEST_SOME_VALUE", "v1")
	if got := runs(func(tb testing.TB) {
		if v := Env(tb, "AGENTCHAT_TEST_SOME_VALUE"); v != "v1" {
			t.Errorf("Env = %q, want v1", v)
		}
		if p := Tool(tb, "go"); !strings.HasSuffix(p, "/go") {
			t.Errorf("Tool(go) = %q, want a path ending in /go", p)
		}
	}); got != "" {
		t.Errorf("ended the test: %q", got)
	}
}
