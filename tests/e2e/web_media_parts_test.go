package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/minio/minio-go/v7"

	"github.com/agentchat/agentchat/internal/testenv"
	"github.com/agentchat/agentchat/sdk/client"
)

// TestWebMediaInParts: the web client uploads a file over media's
// multipart threshold (lowered to S3's smallest part, 5 MiB) in parts,
// as the Go client does: Alice, in headless Chromium, attaches an 11 MiB
// file; the page PUTs three parts to the real MinIO, each with its own
// checksum; the PUT of the second part is held until its URL has expired,
// so the store refuses it, and the page asks media again and goes on from
// that part — no part is stored twice; media completes the upload from
// the three parts. Bob's Go client downloads the blob, and its SHA-256 is
// the file's.
func TestWebMediaInParts(t *testing.T) {
	testenv.Env(t, "AGENTCHAT_TEST_CHROMIUM") // first: without a browser the test ends before the platform starts
	const threshold = 5 << 20
	const urlExpiry = 10 * time.Second // ample for one part; waited out once
	_, here, _, _ := runtime.Caller(0)
	webDir := filepath.Join(filepath.Dir(here), "..", "..", "web")
	e := start(t, opts{functions: mediaFunctions, webDir: webDir, envFor: map[string]map[string]string{"media": {
		"MEDIA_MULTIPART_THRESHOLD": strconv.Itoa(threshold), "MEDIA_PART_SIZE": strconv.Itoa(threshold),
		"MEDIA_URL_EXPIRY": urlExpiry.String(),
	}}})
	if e.s3.Bucket == "" {
		testenv.Missing(t, "media needs the test S3 service ("+testenv.EnvS3Endpoint+")")
	}
	page := strings.Replace(strings.TrimSuffix(e.p.ConnectorURLs()[0], "/ws"), "ws://", "http://", 1) + "/"
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	bob := signup(t, e, "bob")
	cb := bob.dial(t, e)
	wb := watch(cb)

	// 11 MiB sealed: parts of 5 MiB, 5 MiB and the rest.
	file := randomBytes(t, 2*threshold+threshold/5)
	path := filepath.Join(t.TempDir(), "recording.wav")
	if err := os.WriteFile(path, file, 0o600); err != nil {
		t.Fatal(err)
	}

	b := newHeadless(t)
	alice := fmt.Sprintf("alice%d", time.Now().UnixNano()%1e9)
	b.run("sign up in the browser",
		chromedp.Navigate(page),
		chromedp.WaitEnabled(chromedp.CSS("#login-submit")),
		chromedp.SendKeys(chromedp.CSS("#login-username"), alice),
		chromedp.SendKeys(chromedp.CSS("#login-password"), "correct horse battery"),
		chromedp.Click(chromedp.CSS("#signup")),
		chromedp.WaitVisible(`//span[@id="status"][text()="online"]`),
	)
	b.run("a chat with bob",
		chromedp.SendKeys(chromedp.CSS("#new-chat-name"), bob.name),
		chromedp.Click(chromedp.CSS("#new-chat")),
		chromedp.WaitVisible(chromedp.CSS(".conv.current")),
		chromedp.WaitEnabled(chromedp.CSS("#attach")),
	)
	// Every PUT of the store the page makes, with its part number and the
	// store's answer; the first PUT of part 2 is held until released.
	b.eval("record the page's PUTs, hold part 2's", `(() => {
		const open = XMLHttpRequest.prototype.open, send = XMLHttpRequest.prototype.send;
		window.storePuts = [];
		const held = new Promise((resolve) => { window.releasePut = resolve; });
		XMLHttpRequest.prototype.open = function (method, url) {
			if (method === "PUT" && String(url).includes("X-Amz-Signature=")) {
				const u = new URL(url);
				this.storePut = { part: Number(u.searchParams.get("partNumber") || 0), url: String(url), status: 0 };
			}
			return open.apply(this, arguments);
		};
		XMLHttpRequest.prototype.send = function (body) {
			const p = this.storePut;
			if (!p) return send.call(this, body);
			window.storePuts.push(p);
			this.addEventListener("loadend", () => { p.status = this.status; });
			if (p.part === 2 && window.storePuts.filter((x) => x.part === 2).length === 1) {
				held.then(() => send.call(this, body));
				return;
			}
			return send.call(this, body);
		};
		return true;
	})()`)
	b.run("attach the file", chromedp.SetUploadFiles(chromedp.CSS("#attach-input"), []string{path}, chromedp.NodeReady))

	var heldURL string
	testenv.Eventually(t, time.Minute, 20*time.Millisecond, func() bool {
		heldURL = b.evalString(`(window.storePuts.find((p) => p.part === 2) || {}).url || ""`)
		return heldURL != ""
	}, "the page's PUT of part 2")
	expires := presignedExpiry(t, heldURL)
	if d := time.Until(expires); d > urlExpiry+time.Second {
		t.Fatalf("part 2's URL expires in %s, want within %s", d, urlExpiry)
	}
	testenv.Eventually(t, urlExpiry+10*time.Second, 50*time.Millisecond, func() bool {
		return time.Now().After(expires.Add(1500 * time.Millisecond))
	}, "part 2's URL to expire")
	b.eval("let the PUT go", `(window.releasePut(), true)`)
	b.run("uploaded in parts, confirmed, the message stored",
		chromedp.WaitVisible(chromedp.CSS(`.msg.mine[data-seq] .media[data-state="done"]`)),
		chromedp.WaitVisible(chromedp.CSS(`.msg.mine .ticks[data-state="stored"], .msg.mine .ticks[data-state="delivered"]`)),
	)

	type put struct {
		Part   int `json:"part"`
		Status int `json:"status"`
	}
	var puts []put
	if err := json.Unmarshal([]byte(b.evalString(`JSON.stringify(window.storePuts.map(({ part, status }) => ({ part, status })))`)), &puts); err != nil {
		t.Fatal(err)
	}
	stored := map[int]int{}
	refused2 := false
	for _, p := range puts {
		if p.Status == 200 {
			stored[p.Part]++
		}
		refused2 = refused2 || (p.Part == 2 && p.Status == 403)
	}
	if stored[1] != 1 || stored[2] != 1 || stored[3] != 1 || len(stored) != 3 || !refused2 {
		t.Errorf("the page's PUTs %+v: want each of parts 1–3 stored once (resumed at part 2, not started over) and part 2's expired URL refused (403)", puts)
	}

	// Bob downloads what the browser uploaded in parts.
	aliceUser, err := bob.sess.FindUser(ctx, alice)
	if err != nil {
		t.Fatal(err)
	}
	m := waitMedia(t, wb, mustConversation(t, wb, aliceUser.UserID), aliceUser.UserID, 1)[0]
	if m.Content.Media.Name != "recording.wav" || m.Content.Media.Size != int64(len(file)) {
		t.Errorf("the file's description: %q, %d bytes; want recording.wav, %d bytes", m.Content.Media.Name, m.Content.Media.Size, len(file))
	}
	data, err := cb.Download(ctx, m.Conversation, m.Content.Media)
	if err != nil {
		t.Fatalf("bob's download of the browser's file: %v", err)
	}
	if sha256.Sum256(data) != sha256.Sum256(file) {
		t.Fatalf("bob's download: %d bytes whose SHA-256 is not the file's", len(data))
	}
	s3, err := e.s3.Client()
	if err != nil {
		t.Fatal(err)
	}
	key := m.Conversation + "/" + m.Content.Media.ID
	if info, err := s3.StatObject(ctx, e.s3.Bucket, key, minio.StatObjectOptions{Checksum: true}); err != nil || !strings.HasSuffix(info.ChecksumSHA256, "-3") {
		t.Errorf("the object's checksum is %q (%v), want a composite of 3 parts", info.ChecksumSHA256, err)
	}
	if tag := stateTag(t, s3, e.s3.Bucket, key); tag != "stored" {
		t.Errorf("the confirmed upload is tagged state=%q, want stored", tag)
	}
}

// mustConversation is the conversation of the first message w holds from
// sender.
func mustConversation(t *testing.T, w *watcher, sender string) string {
	t.Helper()
	var conv string
	testenv.Eventually(t, time.Minute, 20*time.Millisecond, func() bool {
		w.mu.Lock()
		defer w.mu.Unlock()
		for _, ev := range w.evs {
			if m, ok := ev.(*client.Message); ok && m.Sender == sender {
				conv = m.Conversation
				return true
			}
		}
		return false
	}, "a message from %s", sender)
	return conv
}
