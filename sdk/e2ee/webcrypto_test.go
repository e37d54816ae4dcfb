package e2ee

import (
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// TestVectorsWebCrypto runs testdata/webcrypto_check.mjs, a second
// implementation written against WebCrypto (what the browser client uses),
// over the vectors: it must open them all and reproduce every envelope.
// It needs Node 20 or newer (globalThis.crypto with X25519).
func TestVectorsWebCrypto(t *testing.T) {
	node := tool(t, "node", "apt-get install -y nodejs")
	version, err := exec.Command(node, "--version").Output()
	if err != nil {
		t.Fatalf("node --version: %v", err)
	}
	major, _, _ := strings.Cut(strings.TrimPrefix(strings.TrimSpace(string(version)), "v"), ".")
	if n, err := strconv.Atoi(major); err != nil || n < 20 {
		missing(t, "node %s is older than 20: no globalThis.crypto with X25519 for the WebCrypto check", strings.TrimSpace(string(version)))
	}
	out, err := exec.Command(node, "testdata/webcrypto_check.mjs", vectorsPath).CombinedOutput()
	if err != nil {
		t.Fatalf("webcrypto_check.mjs: %v\n%s", err, out)
	}
	t.Logf("webcrypto_check.mjs: %s", out)
}
