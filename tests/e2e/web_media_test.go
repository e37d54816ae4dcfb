package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"github.com/agentchat/agentchat/internal/testenv"
	"github.com/agentchat/agentchat/sdk/client"
	"github.com/agentchat/agentchat/sdk/e2ee"
)

// TestWebMedia: Alice, in a real headless Chromium, attaches a 5 MB photo
// in a group with Bob (the Go client) and an agent. The browser makes the
// thumbnail (a JPEG of at most 16 KiB), seals the photo with WebCrypto,
// PUTs the blob to the real MinIO through the presigned URL (a progress
// bar while it goes) and sends the message; Bob's Go client downloads it,
// its SHA-256 is the photo's, and the agent's device is among the
// message's recipients. The thumbnail shows in the browser, and a tap opens
// the photo full size. Then Bob sends a file and a photo back from Go: the
// browser shows the file's name and size and the photo's thumbnail; a tap
// downloads each (a fresh presigned GET, the digest checked, decrypted in
// the page), and what the page saves is byte for byte what Bob sent. A
// download whose URL expired before its GET is renewed by asking again.
// Last, a voice note recorded in the browser (a fake microphone) reaches
// Bob as a WebM he can open, and plays in Alice's bubble.
func TestWebMedia(t *testing.T) {
	testenv.Env(t, "AGENTCHAT_TEST_CHROMIUM") // first: without a browser the test ends before the platform starts
	_, here, _, _ := runtime.Caller(0)
	webDir := filepath.Join(filepath.Dir(here), "..", "..", "web")
	calcKey, _ := e2ee.GenerateKey()
	e := start(t, opts{functions: []string{"accounts", "persist", "route", "media", "calc-agent", "deadletter"}, webDir: webDir,
		envFor: map[string]map[string]string{
			"calc-agent": {"AGENT_KEYS": "calc:" + base64.StdEncoding.EncodeToString(calcKey.Bytes())},
			"media":      {"MEDIA_DOWNLOAD_EXPIRY": mediaURLExpiry.String()}, // short enough to wait out
		}})
	if e.s3.Bucket == "" {
		testenv.Missing(t, "media needs the test S3 service ("+testenv.EnvS3Endpoint+")")
	}
	page := strings.Replace(strings.TrimSuffix(e.p.ConnectorURLs()[0], "/ws"), "ws://", "http://", 1) + "/"
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	bob := signup(t, e, "bob")
	if _, err := bob.sess.RegisterAgent(ctx, "Calc", "calc", calcKey.PublicKey(), "calc"); err != nil {
		t.Fatal(err)
	}
	cb := bob.dial(t, e)
	wb := watch(cb)

	// A 5 MB photo the browser can decode: a PNG of noise does not compress.
	const photoW, photoH = 1150, 1100
	photo := pngOf(t, photoW, photoH, true)
	if len(photo) < 5_000_000 {
		t.Fatalf("the photo is %d bytes, want 5 MB", len(photo))
	}
	photoPath := filepath.Join(t.TempDir(), "beach.png")
	if err := os.WriteFile(photoPath, photo, 0o600); err != nil {
		t.Fatal(err)
	}

	b := newHeadless(t,
		// A microphone that plays a tone, allowed without asking: voice notes.
		chromedp.Flag("use-fake-device-for-media-stream", true), chromedp.Flag("use-fake-ui-for-media-stream", true))
	alice := fmt.Sprintf("alice%d", time.Now().UnixNano()%1e9)
	b.run("sign up in the browser",
		chromedp.Navigate(page),
		chromedp.WaitEnabled(chromedp.CSS("#login-submit")),
		chromedp.SendKeys(chromedp.CSS("#login-username"), alice),
		chromedp.SendKeys(chromedp.CSS("#login-password"), "correct horse battery"),
		chromedp.Click(chromedp.CSS("#signup")),
		chromedp.WaitVisible(`//span[@id="status"][text()="online"]`),
	)
	b.run("a group with bob and the agent",
		chromedp.SendKeys(chromedp.CSS("#new-chat-name"), bob.name+", calc"),
		chromedp.Click(chromedp.CSS("#new-chat")),
		chromedp.WaitVisible(chromedp.CSS(".conv.current")),
		chromedp.WaitEnabled(chromedp.CSS("#attach")),
	)
	// Every phase a media bubble shows a progress bar in, as the page
	// redraws: recorded by the page itself, so nothing has to catch it.
	b.eval("watch progress bars", `(() => {
		window.progressSeen = [];
		new MutationObserver(() => {
			for (const p of document.querySelectorAll(".media progress")) {
				const s = p.closest(".media").dataset.state;
				if (!window.progressSeen.includes(s)) window.progressSeen.push(s);
			}
		}).observe(document.getElementById("messages"), { childList: true, subtree: true });
		return true;
	})()`)
	b.run("attach the photo: thumbnail, upload, message stored",
		chromedp.SetUploadFiles(chromedp.CSS("#attach-input"), []string{photoPath}, chromedp.NodeReady),
		chromedp.WaitVisible(chromedp.CSS(`.msg.mine[data-seq] .media[data-state="done"] img.thumb`)),
		chromedp.WaitVisible(chromedp.CSS(`.msg.mine .ticks[data-state="stored"], .msg.mine .ticks[data-state="delivered"]`)),
	)
	if !b.evalBool(`window.progressSeen.includes("uploading")`) {
		t.Errorf("no progress bar was shown while the photo was uploading")
	}
	if !b.evalBool(`(() => { const i = document.querySelector(".msg.mine .media img.thumb"); return i.complete && i.naturalWidth > 0 && i.naturalWidth <= 320; })()`) {
		t.Errorf("the photo's thumbnail is not a picture the browser shows")
	}

	// Bob gets the message, downloads the blob from MinIO and opens it.
	aliceUser, err := bob.sess.FindUser(ctx, alice)
	if err != nil {
		t.Fatal(err)
	}
	var got *client.Message
	testenv.Eventually(t, 60*time.Second, 20*time.Millisecond, func() bool {
		wb.mu.Lock()
		defer wb.mu.Unlock()
		for _, ev := range wb.evs {
			if m, ok := ev.(*client.Message); ok && m.Sender == aliceUser.UserID && m.Content.Media != nil {
				got = m
				return true
			}
			if x, ok := ev.(*client.Error); ok {
				t.Fatalf("bob could not open the browser's message: %v", x)
			}
		}
		return false
	}, "bob receives alice's photo")
	conv, m := got.Conversation, got.Content.Media
	if m.Name != "beach.png" || m.Type != "image/png" || m.Size != int64(len(photo)) || m.Width != photoW || m.Height != photoH {
		t.Errorf("the photo's description: name %q, type %q, %d bytes, %dx%d; want beach.png, image/png, %d bytes, %dx%d",
			m.Name, m.Type, m.Size, m.Width, m.Height, len(photo), photoW, photoH)
	}
	if len(m.Thumbnail) == 0 || len(m.Thumbnail) > e2ee.MaxThumbnail {
		t.Errorf("thumbnail of %d bytes, want 1..%d", len(m.Thumbnail), e2ee.MaxThumbnail)
	} else if cfg, err := jpeg.DecodeConfig(bytes.NewReader(m.Thumbnail)); err != nil || cfg.Width > 320 || cfg.Height > 320 {
		t.Errorf("thumbnail: %v, %dx%d; want a JPEG within 320 px", err, cfg.Width, cfg.Height)
	}
	data, err := cb.Download(ctx, conv, m)
	if err != nil {
		t.Fatalf("bob's download of the browser's photo: %v", err)
	}
	if sha256.Sum256(data) != sha256.Sum256(photo) {
		t.Fatalf("bob's download: %d bytes whose SHA-256 is not the photo's", len(data))
	}
	if obj := readObject(t, e, conv+"/"+m.ID); bytes.Contains(obj, photo[1000:1064]) {
		t.Errorf("the bucket holds the photo's plaintext")
	}
	// The agent is a recipient of the photo's message: a group message is
	// sealed once with the browser's sender key, its key wrapped for the
	// agent's device alone (the people read it with the chain key,
	// docs/e2ee.md "Sender keys").
	devices, err := bob.sess.ConversationDeviceList(ctx, conv)
	if err != nil {
		t.Fatal(err)
	}
	var agentDevice string
	for _, d := range devices {
		if d.UserID == "calc" {
			agentDevice = d.DeviceID
		}
	}
	if wrapped := e.envelopeDevices(t, conv, got.Seq); agentDevice == "" || !slices.Equal(wrapped, []string{agentDevice}) {
		t.Errorf("the photo's message is wrapped for %v; want the agent's (%q) device alone", wrapped, agentDevice)
	}

	b.run("tap the thumbnail: the photo full size",
		jsClick(".msg.mine .media img.thumb"),
		chromedp.WaitVisible(chromedp.CSS("#viewer img")),
	)
	if w := b.evalInt(`(async () => { const i = document.getElementById("viewer-img"); await i.decode(); return i.naturalWidth; })()`); w != photoW {
		t.Errorf("the full-size photo is %d px wide, want %d", w, photoW)
	}
	b.run("close the viewer", jsClick("#viewer"), chromedp.WaitNotVisible(chromedp.CSS("#viewer")))

	// Bob → the group from Go: a file and a photo with a Go-made thumbnail.
	report := make([]byte, 700<<10)
	for i := range report {
		report[i] = byte(rand.N(256))
	}
	fileMedia, _, err := cb.SendFile(ctx, conv, report, client.File{Name: "report.pdf", Type: "application/pdf"})
	if err != nil {
		t.Fatalf("bob's SendFile: %v", err)
	}
	small := pngOf(t, 200, 150, false)
	var thumb bytes.Buffer
	if err := jpeg.Encode(&thumb, solid(40, 30), nil); err != nil {
		t.Fatal(err)
	}
	photoMedia, _, err := cb.SendFile(ctx, conv, small, client.File{Name: "dog.png", Type: "image/png", Width: 200, Height: 150, Thumbnail: thumb.Bytes()})
	if err != nil {
		t.Fatalf("bob's SendFile: %v", err)
	}

	fileBox := fmt.Sprintf(`.msg.theirs .media[data-media=%q]`, fileMedia.ID)
	b.run("the browser shows bob's file: name and size",
		chromedp.WaitVisible(chromedp.CSS(fileBox+` .file-name`)),
	)
	if text := b.evalString(`document.querySelector(` + jsString(fileBox) + `).innerText`); !strings.Contains(text, "report.pdf") || !strings.Contains(text, "700.0 KB") {
		t.Errorf("bob's file shows as %q, want its name and size (report.pdf, 700.0 KB)", text)
	}
	downloads := b.saveDownloads()
	b.run("tap it: downloaded, checked and decrypted in the page, then saved",
		jsClick(fileBox),
		chromedp.WaitVisible(chromedp.CSS(fileBox+`[data-state="done"] a.save`)),
	)
	if !b.evalBool(`window.progressSeen.includes("downloading")`) {
		t.Errorf("no progress bar was shown while bob's file was downloading")
	}
	if saved := waitDownload(t, downloads); hexSHA256(saved) != hexSHA256(report) {
		t.Errorf("the browser saved %d bytes of bob's file whose SHA-256 is not the file's", len(saved))
	}

	photoBox := fmt.Sprintf(`.msg.theirs .media[data-media=%q]`, photoMedia.ID)
	b.run("the browser shows bob's photo's thumbnail; a tap opens it full size",
		chromedp.WaitVisible(chromedp.CSS(photoBox+` img.thumb`)),
		jsClick(photoBox+` img.thumb`),
		chromedp.WaitVisible(chromedp.CSS("#viewer img")),
	)
	if w := b.evalInt(`(async () => { const i = document.getElementById("viewer-img"); await i.decode(); return i.naturalWidth; })()`); w != 200 {
		t.Errorf("bob's photo full size is %d px wide, want 200", w)
	}
	b.run("save it", jsClick("#viewer-save"))
	if saved := waitDownload(t, downloads); hexSHA256(saved) != hexSHA256(small) {
		t.Errorf("the browser saved %d bytes of bob's photo whose SHA-256 is not the photo's", len(saved))
	}
	// An expired download URL is renewed without the user seeing it: the
	// page's first GET of the store is held until its URL has expired.
	late := randomBytes(t, 50<<10)
	lateMedia, _, err := cb.SendFile(ctx, conv, late, client.File{Name: "late.bin"})
	if err != nil {
		t.Fatalf("bob's SendFile: %v", err)
	}
	b.eval("hold the page's next GET of the store", `(() => {
		const open = XMLHttpRequest.prototype.open, send = XMLHttpRequest.prototype.send;
		window.storeGets = [];
		const held = new Promise((resolve) => { window.releaseGet = resolve; });
		XMLHttpRequest.prototype.open = function (method, url) {
			this.storeGet = method === "GET" && String(url).includes("X-Amz-Signature=");
			if (this.storeGet) window.storeGets.push(String(url));
			return open.apply(this, arguments);
		};
		XMLHttpRequest.prototype.send = function (body) {
			if (this.storeGet && window.storeGets.length === 1) { held.then(() => send.call(this, body)); return; }
			return send.call(this, body);
		};
		return true;
	})()`)
	lateBox := fmt.Sprintf(`.msg.theirs .media[data-media=%q]`, lateMedia.ID)
	b.run("tap bob's next file", jsClick(lateBox))
	var first string
	testenv.Eventually(t, 30*time.Second, 20*time.Millisecond, func() bool {
		first = b.evalString(`window.storeGets[0] || ""`)
		return first != ""
	}, "the page's GET of the store")
	waitPast(t, presignedExpiry(t, first))
	b.eval("let the GET go", `(window.releaseGet(), true)`)
	b.run("the expired URL renewed, the file downloaded and saved",
		chromedp.WaitVisible(chromedp.CSS(lateBox+`[data-state="done"] a.save`)))
	if n := b.evalInt(`window.storeGets.length`); n != 2 {
		t.Errorf("the page made %d GETs of the store, want 2 (the expired URL, then a fresh one)", n)
	}
	if saved := waitDownload(t, downloads); !bytes.Equal(saved, late) {
		t.Errorf("the browser saved %d bytes of bob's late file, not the %d sent", len(saved), len(late))
	}

	// A voice note recorded in the browser: Bob gets an audio file he can
	// open (a WebM: its EBML header), and the bubble plays it.
	b.run("record a voice note and send it",
		jsClick("#record"),
		chromedp.WaitVisible(chromedp.CSS(`#record[data-state="recording"]`)),
		jsClick("#record"),
		chromedp.WaitVisible(chromedp.CSS(`#record[data-state="idle"]`)),
		chromedp.WaitVisible(chromedp.CSS(`.msg.mine[data-seq] .media[data-state="done"] audio`)),
	)
	var voice *e2ee.Media
	testenv.Eventually(t, 60*time.Second, 20*time.Millisecond, func() bool {
		wb.mu.Lock()
		defer wb.mu.Unlock()
		for _, ev := range wb.evs {
			if m, ok := ev.(*client.Message); ok && m.Sender == aliceUser.UserID && m.Content.Media != nil && strings.HasPrefix(m.Content.Media.Type, "audio/") {
				voice = m.Content.Media
				return true
			}
		}
		return false
	}, "bob receives the voice note")
	if got, err := cb.Download(ctx, conv, voice); err != nil || !bytes.HasPrefix(got, []byte{0x1a, 0x45, 0xdf, 0xa3}) {
		t.Errorf("bob's download of the voice note (%s, %q): %d bytes, %v; want a WebM recording", voice.Type, voice.Name, len(got), err)
	}
	// Bob's voice note: a tap downloads it and the bubble gets a player.
	reply, _, err := cb.SendFile(ctx, conv, randomBytes(t, 30<<10), client.File{Name: "reply.ogg", Type: "audio/ogg"})
	if err != nil {
		t.Fatalf("bob's SendFile: %v", err)
	}
	replyBox := fmt.Sprintf(`.msg.theirs .media[data-media=%q]`, reply.ID)
	b.run("tap bob's voice note: a player",
		jsClick(replyBox),
		chromedp.WaitVisible(chromedp.CSS(replyBox+`[data-state="done"] audio`)),
	)

	if text := b.evalString(`document.getElementById("messages").innerText`); strings.Contains(text, "could not be decrypted") {
		t.Errorf("the chat shows an error:\n%s", text)
	}
}

// saveDownloads has the browser save what the page downloads into a
// folder of the test, and sends each file's path once it is complete.
func (b *headless) saveDownloads() <-chan string {
	b.t.Helper()
	dir := b.t.TempDir()
	events := chromedp.BrowserEvents(b.ctx, cdpbrowser.DownloadProgress) // subscribed before any download starts
	yes := true
	if _, err := chromedp.CallBrowser(b.ctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
		Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: dir, EventsEnabled: &yes}); err != nil {
		b.t.Fatal(err)
	}
	done := make(chan string, 16)
	go func() {
		for ev, err := range events {
			if err != nil {
				return
			}
			if ev.State == cdpbrowser.DownloadProgressStateCompleted {
				done <- filepath.Join(dir, ev.GUID) // allowAndName: saved under its guid
			}
		}
	}()
	return done
}

// waitDownload reads the next file the browser saved.
func waitDownload(t *testing.T, downloads <-chan string) []byte {
	t.Helper()
	select {
	case path := <-downloads:
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return b
	case <-time.After(time.Minute):
		t.Fatal("the browser saved no file within a minute")
		return nil
	}
}

func jsString(s string) string { return fmt.Sprintf("%q", s) }

// presignedExpiry is when a presigned S3 URL expires: X-Amz-Date plus
// X-Amz-Expires seconds.
func presignedExpiry(t *testing.T, rawURL string) time.Time {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	at, err := time.Parse("20060102T150405Z", q.Get("X-Amz-Date"))
	secs, err2 := strconv.Atoi(q.Get("X-Amz-Expires"))
	if err != nil || err2 != nil {
		t.Fatalf("not a presigned URL: %s", rawURL)
	}
	return at.Add(time.Duration(secs) * time.Second)
}

// jsClick clicks the element sel names once it is there, in one step in the
// page: the chat list is redrawn as messages come (the agent answers), so
// a node found first and clicked after may be gone.
func jsClick(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		if _, err := chromedp.WaitVisible(chromedp.CSS(sel))(ctx, tg); err != nil {
			return err
		}
		_, err := chromedp.Evaluate[bool](`(document.querySelector(`+jsString(sel)+`).click(), true)`)(ctx, tg)
		return err
	})
}

// clickConv opens conversation id from the list, as jsClick clicks: the
// list is redrawn as names, presence and previews resolve, so a node
// chromedp.Click found may be replaced before its click lands ("Could not
// find node with given id").
func clickConv(id string) chromedp.Action[chromedp.Void] {
	return jsClick(fmt.Sprintf(`li.conv[data-id=%q]`, id))
}

func hexSHA256(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// pngOf is a PNG of w×h pixels: noise (which does not compress, so the
// file is about 4 bytes a pixel) or a gradient.
func pngOf(t *testing.T, w, h int, noise bool) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := color.NRGBA{uint8(x), uint8(y), 128, 255}
			if noise {
				v := rand.Uint32()
				c = color.NRGBA{uint8(v), uint8(v >> 8), uint8(v >> 16), uint8(v>>24) | 0x80}
			}
			img.SetNRGBA(x, y, c)
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func solid(w, h int) image.Image {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = 200
	}
	return img
}
