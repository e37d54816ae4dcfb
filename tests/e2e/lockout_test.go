package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentchat/agentchat/internal/backing"
	"github.com/agentchat/agentchat/internal/testenv"
	"github.com/agentchat/agentchat/sdk/e2ee"
)

// A login lockout ends after its window, on the dev runner's embedded Redis
// (what make run starts when no REDIS_URL is given) exactly as on a real
// Redis: a username locked by bad passwords logs in again once its window
// is over, and so does an address locked by failed logins. The windows are
// short (LOGIN_RATE) and each end is awaited, never slept for; it may not
// come before the window is over.
func TestLoginLockoutEnds(t *testing.T) {
	for _, mode := range []string{"embedded redis", "real redis"} {
		t.Run(mode, func(t *testing.T) {
			o := opts{functions: []string{"accounts"}, envFor: map[string]map[string]string{"accounts": {
				"LOGIN_RATE":         "user=2/1s,ip=3/2s",
				"TRUSTED_PROXY_HOPS": "1", // the test names each attempt's address in X-Forwarded-For
			}}}
			if mode == "embedded redis" {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				svc, err := backing.Start(ctx, backing.Config{MongoURI: "mongodb://unused", S3Endpoint: "unused:1", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { svc.Close() })
				o.redisURL = svc.RedisURL
			}
			e := start(t, o)
			checkLockoutsEnd(t, e.p.AccountsURL())
		})
	}
}

// earlyTolerance: the embedded Redis may expire a key up to one clock tick
// (50 ms) early; real Redis never does.
const earlyTolerance = 100 * time.Millisecond

func checkLockoutsEnd(t *testing.T, base string) {
	var addrN atomic.Int64
	freshAddr := func() string { return fmt.Sprintf("198.51.100.%d", addrN.Add(1)%250+1) }
	login := func(addr, user, password string) (int, time.Duration) {
		t.Helper()
		key, _ := e2ee.GenerateKey()
		b, _ := json.Marshal(map[string]string{"username": user, "password": password,
			"publicKey": base64.StdEncoding.EncodeToString(key.PublicKeyBytes())})
		req, err := http.NewRequest("POST", base+"/v1/login", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Forwarded-For", addr)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		io.Copy(io.Discard, resp.Body)
		ra, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
		return resp.StatusCode, time.Duration(ra) * time.Second
	}
	name := fmt.Sprintf("lock%d", time.Now().UnixNano()%1e9)
	b, _ := json.Marshal(map[string]string{"username": name, "password": "correct horse battery"})
	resp, err := http.Post(base+"/v1/signup", "application/json", bytes.NewReader(b))
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("signup: %v %v", resp, err)
	}
	resp.Body.Close()

	t.Run("username", func(t *testing.T) {
		// Every attempt from its own address: only the username's limit
		// (2 per 1 s) is in play.
		first := time.Now()
		for range 2 {
			if code, _ := login(freshAddr(), name, "wrong password!"); code != http.StatusUnauthorized {
				t.Fatalf("bad password: %d, want 401", code)
			}
		}
		code, wait := login(freshAddr(), name, "correct horse battery")
		if code != http.StatusTooManyRequests || wait < time.Second || wait > 2*time.Second {
			t.Fatalf("third attempt: %d, Retry-After %v; want 429 within the 1 s window", code, wait)
		}
		var ok time.Time
		testenv.Eventually(t, 30*time.Second, 50*time.Millisecond, func() bool {
			code, _ := login(freshAddr(), name, "correct horse battery")
			if code == http.StatusOK {
				ok = time.Now()
			} else if code != http.StatusTooManyRequests {
				t.Fatalf("while locked: %d, want 429", code)
			}
			return code == http.StatusOK
		}, "the username's lockout ends")
		if d := ok.Sub(first); d < time.Second-earlyTolerance {
			t.Errorf("the username's lockout ended %v after the first attempt, before its 1 s window", d)
		}
	})

	t.Run("address", func(t *testing.T) {
		// Unknown usernames, all from one address: only the address's
		// limit (3 per 2 s) is in play; once it lifts, a login attempt is
		// judged again (401: no such user) instead of refused (429).
		addr := "203.0.113.9"
		first := time.Now()
		for i := range 3 {
			if code, _ := login(addr, fmt.Sprintf("%s-nobody-%d", name, i), "wrong password!"); code != http.StatusUnauthorized {
				t.Fatalf("attempt %d: %d, want 401", i, code)
			}
		}
		if code, wait := login(addr, name+"-nobody-x", "wrong password!"); code != http.StatusTooManyRequests || wait < time.Second || wait > 2*time.Second {
			t.Fatalf("fourth attempt: %d, Retry-After %v; want 429 within the 2 s window", code, wait)
		}
		var n int
		var ok time.Time
		testenv.Eventually(t, 30*time.Second, 50*time.Millisecond, func() bool {
			n++
			code, _ := login(addr, fmt.Sprintf("%s-poll-%d", name, n), "wrong password!")
			if code == http.StatusUnauthorized {
				ok = time.Now()
			} else if code != http.StatusTooManyRequests {
				t.Fatalf("while locked: %d, want 429", code)
			}
			return code == http.StatusUnauthorized
		}, "the address's lockout ends")
		if d := ok.Sub(first); d < 2*time.Second-earlyTolerance {
			t.Errorf("the address's lockout ended %v after the first attempt, before its 2 s window", d)
		}
	})
}
