package testenv

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestRedis(t *testing.T) {
	var url, prefix string
	t.Run("set, get, publish, subscribe", func(t *testing.T) {
		url, prefix = Redis(t)
		opts, err := redis.ParseURL(url)
		if err != nil {
			t.Fatal(err)
		}
		c := redis.NewClient(opts)
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()

		if err := c.Set(ctx, prefix+"k", "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
		if got, err := c.Get(ctx, prefix+"k").Result(); err != nil || got != "v" {
			t.Fatalf("GET = %q, %v; want \"v\"", got, err)
		}

		sub := c.Subscribe(ctx, prefix+"ch")
		defer sub.Close()
		if _, err := sub.Receive(ctx); err != nil { // the subscription's confirmation
			t.Fatal(err)
		}
		if err := c.Publish(ctx, prefix+"ch", "hello").Err(); err != nil {
			t.Fatal(err)
		}
		select {
		case m := <-sub.Channel():
			if got, want := m.Payload, "hello"; got != want {
				t.Errorf("payload = %q, want %q", got, want)
			}
		case <-ctx.Done():
			t.Fatal("no message on the subscribed channel")
		}
	})
	if url == "" {
		t.Skip("no redis")
	}

	opts, _ := redis.ParseURL(url)
	c := redis.NewClient(opts)
	defer c.Close()
	if n, err := c.Exists(context.Background(), prefix+"k").Result(); err != nil || n != 0 {
		t.Errorf("EXISTS %sk after the test = %d, %v; want 0 (cleaned up)", prefix, n, err)
	}
}

func TestRedisPrefixesAreUnique(t *testing.T) {
	_, a := Redis(t)
	_, b := Redis(t)
	if a == b {
		t.Errorf("two prefixes are both %q", a)
	}
	for _, p := range []string{a, b} {
		if !strings.HasSuffix(p, ":") || strings.ContainsAny(p, "*?[]\\") {
			t.Errorf("prefix %q: want no glob characters and a trailing colon", p)
		}
	}
}
