package e2e

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/agentchat/agentchat/internal/testenv"
	"github.com/agentchat/agentchat/sdk/e2ee"
)

// TestSenderKeysInChromium runs sdk/e2ee/testdata/senderkeys.json through
// the web client's own modules (web/senderkeys.js, web/e2ee.js,
// web/ed25519.js) in the real headless Chromium — the file and check the
// Go tests and Node run — and then trades fresh group messages: the
// browser opens a v2 message sdk/e2ee sealed (with its distribution) and
// verifies its signature; Go opens a v2 message the browser sealed with a
// sender key of its own and verifies the browser's signature.
func TestSenderKeysInChromium(t *testing.T) {
	testenv.Env(t, "AGENTCHAT_TEST_CHROMIUM")
	_, here, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(here), "..", "..")
	files := http.FileServer(http.Dir(root))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/":
			fmt.Fprint(w, "<!doctype html><title>sender keys</title>")
		case strings.HasPrefix(r.URL.Path, "/web/"), strings.HasPrefix(r.URL.Path, "/sdk/e2ee/testdata/"):
			files.ServeHTTP(w, r)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()

	ctx := newHeadless(t).ctx
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/")); err != nil {
		t.Fatal(err)
	}
	const check = "/sdk/e2ee/testdata/senderkeys_check.js"
	type result struct {
		Checks   int      `json:"checks"`
		Failures []string `json:"failures"`
	}
	got, err := chromedp.Run(ctx, chromedp.Evaluate[result](
		`Promise.all([import("`+check+`"), fetch("/sdk/e2ee/testdata/senderkeys.json").then(r => r.json())]).then(([m, f]) => m.check(f))`,
		chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("the check did not run in Chromium: %v", err)
	}
	for _, f := range got.Failures {
		t.Errorf("Chromium: FAIL %s", f)
	}
	if got.Checks < 50 {
		t.Errorf("Chromium ran %d checks; the file has more", got.Checks)
	}
	t.Logf("Chromium: %d/%d checks passed", got.Checks-len(got.Failures), got.Checks)

	// Fresh messages both ways.
	sk, _ := e2ee.NewSenderKey()
	signer, _ := e2ee.GenerateSigningKey()
	ad := e2ee.AssociatedData{Conversation: "g-interop", SenderDevice: "dev-go", ClientMessageID: "m-go-1"}
	content, _ := e2ee.Content{Text: "sealed once by sdk/e2ee"}.Marshal()
	for range 3 { // messages before the distribution: the browser starts at its index
		if _, err := e2ee.SealGroup(sk, content, ad, nil); err != nil {
			t.Fatal(err)
		}
	}
	dist := sk.Distribution()
	env, err := e2ee.SealGroup(sk, content, ad, nil)
	if err != nil {
		t.Fatal(err)
	}
	e2ee.SignEnvelope(env, ad.Conversation, ad.SenderDevice, signer)
	jsAD := func(a e2ee.AssociatedData) map[string]string {
		return map[string]string{"conversation": a.Conversation, "senderDevice": a.SenderDevice, "clientMessageId": a.ClientMessageID}
	}
	reply := e2ee.AssociatedData{Conversation: "g-interop", SenderDevice: "dev-browser", ClientMessageID: "m-js-1"}
	in, _ := json.Marshal(map[string]any{"dist": dist, "ad": jsAD(ad), "envelope": env,
		"signingPublic": hex.EncodeToString(signer.PublicKeyBytes()), "reply": jsAD(reply)})
	type answer struct {
		Opened        string                     `json:"opened"`
		Verified      bool                       `json:"verified"`
		Dist          e2ee.SenderKeyDistribution `json:"dist"`
		Envelope      *e2ee.Envelope             `json:"envelope"`
		SigningPublic string                     `json:"signingPublic"`
	}
	a, err := chromedp.Run(ctx, chromedp.Evaluate[answer](`import("`+check+`").then(m => m.interop(`+string(in)+`))`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("interop in Chromium: %v", err)
	}
	if a.Opened != "sealed once by sdk/e2ee" || !a.Verified {
		t.Errorf("the browser opened Go's v2 message as %q, verified %v", a.Opened, a.Verified)
	}
	if a.Envelope == nil || a.Envelope.V != e2ee.Version2 || len(a.Envelope.Keys) != 0 {
		t.Fatalf("the browser's envelope: %+v", a.Envelope)
	}
	rk, err := e2ee.NewReceiverKey(a.Dist)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := rk.Open(a.Envelope, reply)
	if c, cerr := e2ee.UnmarshalContent(plain); err != nil || cerr != nil || c.Text != "sealed once in the browser" {
		t.Errorf("Go opened the browser's v2 message: %q, %v", plain, err)
	}
	pub, _ := hex.DecodeString(a.SigningPublic)
	if err := e2ee.VerifyEnvelope(a.Envelope, reply.Conversation, reply.SenderDevice, pub); err != nil {
		t.Errorf("Go verifies the browser's v2 signature: %v", err)
	}
}
