package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestRunRoutesAndDrains(t *testing.T) {
	var persist atomic.Int32
	sub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Ce-Type") == "io.agentchat.message.sent" {
			persist.Add(1)
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer sub.Close()

	t.Setenv("LOCALBROKER_WORKERS", "2")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-listen", "127.0.0.1:0", "-admin", "-log-level", "warn"}, outW, io.Discard)
		outW.Close()
	}()
	line, err := bufio.NewReader(outR).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	go func() { _, _ = io.Copy(io.Discard, outR) }()
	base := strings.TrimSpace(line)
	if !strings.HasPrefix(base, "http://127.0.0.1:") {
		t.Fatalf("first line %q is not the URL", line)
	}

	// The subscriber is set after start, through the admin endpoint.
	req, _ := http.NewRequest(http.MethodPut, base+"/admin/subscribers/persist", strings.NewReader(sub.URL))
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("admin: %v %v", resp, err)
	}
	req, _ = http.NewRequest(http.MethodPost, base+"/agentchat/agentchat", strings.NewReader(`{}`))
	req.Header = http.Header{"Ce-Specversion": {"1.0"}, "Ce-Id": {"m1"}, "Ce-Source": {"/t"},
		"Ce-Type": {"io.agentchat.message.sent"}, "Content-Type": {"application/json"}}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("ingress: %d", resp.StatusCode)
	}
	cancel() // SIGTERM: drain, then exit
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return")
	}
	if got := persist.Load(); got != 1 {
		t.Errorf("persist got %d events, want 1", got)
	}
}

func TestConfigFromEnvAndFlags(t *testing.T) {
	t.Setenv("LOCALBROKER_SUBSCRIBERS", "persist=http://127.0.0.1:1,route=http://127.0.0.1:2")
	t.Setenv("LOCALBROKER_QUEUE_SIZE", "7")
	c, err := loadConfig([]string{"-subscriber", "route=http://127.0.0.1:3", "-workers", "9"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Subscribers.String(), "persist=http://127.0.0.1:1,route=http://127.0.0.1:3"; got != want {
		t.Errorf("subscribers: got %s, want %s", got, want)
	}
	if c.QueueSize != 7 || c.Workers != 9 || c.Broker != "dev" || c.Listen != "127.0.0.1:8080" {
		t.Errorf("got %+v", c)
	}
	if _, err := loadConfig([]string{"-subscriber", "nourl"}, io.Discard); err == nil {
		t.Error("want an error for -subscriber without =")
	}
}
