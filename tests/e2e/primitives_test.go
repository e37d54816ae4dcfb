package e2e

import (
	"bytes"
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

// TestPrimitivesInChromium runs the published vectors of the primitives
// beside the v1 envelope (sdk/e2ee/testdata/primitives.json: RFC 9180
// A.1.1, RFC 8032 7.1 and our negative cases) through the web client's own
// modules, web/hpke.js and web/ed25519.js, in the real headless Chromium —
// the same file and check sdk/e2ee's Go tests and Node run. Then Go and
// the browser trade fresh (random) messages: the browser opens an HPKE
// message sealed by sdk/e2ee and verifies its signature; Go opens what the
// browser sealed for it and verifies the browser's signature.
// It needs no platform: only a page from 127.0.0.1 (a secure context).
func TestPrimitivesInChromium(t *testing.T) {
	testenv.Env(t, "AGENTCHAT_TEST_CHROMIUM") // first: without a browser the test ends before the platform starts
	_, here, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(here), "..", "..")
	files := http.FileServer(http.Dir(root))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/":
			fmt.Fprint(w, "<!doctype html><title>primitives</title>")
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
	const check = "/sdk/e2ee/testdata/primitives_check.js"

	type result struct {
		Checks   int      `json:"checks"`
		Failures []string `json:"failures"`
	}
	got, err := chromedp.Run(ctx, chromedp.Evaluate[result](
		`Promise.all([import("`+check+`"), fetch("/sdk/e2ee/testdata/primitives.json").then(r => r.json())]).then(([m, f]) => m.check(f))`,
		chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("the check did not run in Chromium: %v", err)
	}
	for _, f := range got.Failures {
		t.Errorf("Chromium: FAIL %s", f)
	}
	if got.Checks < 70 {
		t.Errorf("Chromium ran %d checks; the file has more", got.Checks)
	}
	t.Logf("Chromium: %d/%d checks passed", got.Checks-len(got.Failures), got.Checks)

	// Fresh messages both ways.
	bob, _ := e2ee.GenerateKey()   // a device whose key the browser is given
	alice, _ := e2ee.GenerateKey() // a device the browser seals for
	signer, _ := e2ee.GenerateSigningKey()
	info, aad := []byte("agentchat/test/interop"), []byte("conv-1|dev-go")
	goText, goSigned := []byte("sealed by sdk/e2ee"), []byte("signed by sdk/e2ee")
	enc, ct, err := e2ee.HPKESeal(bob.PublicKeyBytes(), info, aad, goText)
	if err != nil {
		t.Fatal(err)
	}
	h := hex.EncodeToString
	in, _ := json.Marshal(map[string]any{
		"hpke":    map[string]string{"skR": h(bob.Bytes()), "pkR": h(bob.PublicKeyBytes()), "info": h(info), "aad": h(aad), "enc": h(enc), "ct": h(ct)},
		"ed25519": map[string]string{"publicKey": h(signer.PublicKeyBytes()), "message": h(goSigned), "signature": h(signer.Sign(goSigned))},
		"sealTo":  h(alice.PublicKeyBytes()),
	})
	type answer struct {
		Opened    string `json:"opened"`
		Verified  bool   `json:"verified"`
		Enc       string `json:"enc"`
		CT        string `json:"ct"`
		PublicKey string `json:"publicKey"`
		Message   string `json:"message"`
		Signature string `json:"signature"`
	}
	a, err := chromedp.Run(ctx, chromedp.Evaluate[answer](`import("`+check+`").then(m => m.interop(`+string(in)+`))`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("interop in Chromium: %v", err)
	}
	if a.Opened != h(goText) {
		t.Errorf("the browser opened Go's HPKE message as %q", a.Opened)
	}
	if !a.Verified {
		t.Error("the browser did not verify Go's signature")
	}
	unhex := func(s string) []byte { b, _ := hex.DecodeString(s); return b }
	pt, err := e2ee.HPKEOpen(alice, unhex(a.Enc), info, aad, unhex(a.CT))
	if err != nil || !bytes.Equal(pt, []byte("sealed in the browser")) {
		t.Errorf("Go opened the browser's HPKE message: %q, %v", pt, err)
	}
	if err := e2ee.Verify(unhex(a.PublicKey), unhex(a.Message), unhex(a.Signature)); err != nil {
		t.Errorf("Go verifies the browser's signature: %v", err)
	}
	if err := e2ee.Verify(unhex(a.PublicKey), []byte("signed in the browser!"), unhex(a.Signature)); err == nil {
		t.Error("Go verified the browser's signature over another message")
	}
}
