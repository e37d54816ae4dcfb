package client

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/agentchat/agentchat/sdk/e2ee"
)

// blobServer serves body at every path: with its Content-Length when cl
// is true, else chunked (no length known in advance), which is how a
// store that sends more or less than declared gets past the transport's
// own length check.
func blobServer(t testing.TB, body []byte, cl bool) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if cl {
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		}
		w.WriteHeader(http.StatusOK)
		w.Write(body)
		if !cl {
			w.(http.Flusher).Flush() // commits to chunked even for a short body
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestGetIsExactlyTheGrantsSize: Get returns the blob when the store
// sends exactly the grant's size, with or without a Content-Length, and
// refuses a store that sends more or less — announced or not.
func TestGetIsExactlyTheGrantsSize(t *testing.T) {
	body := bytes.Repeat([]byte("0123456789abcdef"), 4096) // 64 KiB
	for _, cl := range []bool{true, false} {
		srv := blobServer(t, body, cl)
		c := &Client{cfg: Config{HTTPClient: srv.Client()}}
		get := func(size int64) ([]byte, error) {
			return c.Get(context.Background(), &DownloadGrant{URL: srv.URL + "/b", Size: size})
		}
		if got, err := get(int64(len(body))); err != nil || !bytes.Equal(got, body) {
			t.Errorf("content-length %v: Get of the grant's size: %d bytes, %v; want the %d served", cl, len(got), err, len(body))
		}
		for _, size := range []int64{int64(len(body)) - 1, int64(len(body)) + 1, 0} {
			if got, err := get(size); err == nil {
				t.Errorf("content-length %v: a grant of %d bytes, the store sends %d: Get returned %d bytes and no error", cl, size, len(body), len(got))
			}
		}
	}
	c := &Client{cfg: Config{HTTPClient: http.DefaultClient}}
	for _, size := range []int64{-1, 5<<30 + 1} {
		if _, err := c.Get(context.Background(), &DownloadGrant{URL: "http://127.0.0.1:1/never", Size: size}); err == nil || !strings.Contains(err.Error(), "a grant of") {
			t.Errorf("a grant of %d bytes: %v, want it refused before any request", size, err)
		}
	}
}

// TestDownloadRefusesAGrantOfAnotherSize: the signed message's file size
// fixes the blob's; a download grant of any other size is refused before
// the blob is fetched.
func TestDownloadRefusesAGrantOfAnotherSize(t *testing.T) {
	fc := newFakeConnector(t, "tok")
	st := newFakeStore(t)
	me := newDevice(t, "alice", "a1")
	dir := &mapDirectory{}
	dir.set("c-1", me.recipient())
	c := dial(t, testConfig(me, dir, fc.URL))
	serveMedia(t, fc.accept(), st)
	m, _, err := c.SendFile(context.Background(), "c-1", []byte("twelve bytes"), File{})
	if err != nil {
		t.Fatal(err)
	}
	if g, err := c.RequestDownload(context.Background(), "c-1", m.ID); err != nil || g.Size != m.Size+e2ee.MediaOverhead {
		t.Fatalf("grant %+v, %v; want one of %d bytes", g, err, m.Size+e2ee.MediaOverhead)
	}
	lying := *m
	lying.Size++
	if _, err := c.Download(context.Background(), "c-1", &lying); err == nil || !strings.Contains(err.Error(), "seals to") {
		t.Errorf("Download of a file the message says is a byte longer: %v, want the grant's size refused", err)
	}
}

// BenchmarkGet: a 16 MiB blob through Get (one buffer of the grant's
// size) against io.ReadAll of the same response, which grows its buffer
// as bytes arrive — what Get did before.
func BenchmarkGet(b *testing.B) {
	body := bytes.Repeat([]byte{0xA5}, 16<<20)
	srv := blobServer(b, body, true)
	c := &Client{cfg: Config{HTTPClient: srv.Client()}}
	g := &DownloadGrant{URL: srv.URL + "/b", Size: int64(len(body))}
	b.Run("sized", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			if _, err := c.Get(context.Background(), g); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("readall", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			resp, err := srv.Client().Get(g.URL)
			if err != nil {
				b.Fatal(err)
			}
			blob, err := io.ReadAll(io.LimitReader(resp.Body, g.Size+1))
			resp.Body.Close()
			if err != nil || int64(len(blob)) != g.Size {
				b.Fatal(len(blob), err)
			}
		}
	})
}
