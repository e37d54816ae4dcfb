package e2ee

import (
	"os/exec"
	"testing"
)

// TestVectorsWebCrypto runs testdata/webcrypto_check.mjs, a second
// implementation written against WebCrypto (what the browser client uses),
// over the vectors: it must open them all and reproduce every envelope.
func TestVectorsWebCrypto(t *testing.T) {
	node := tool(t, "node", "apt-get install -y nodejs")
	out, err := exec.Command(node, "testdata/webcrypto_check.mjs", vectorsPath).CombinedOutput()
	if err != nil {
		t.Fatalf("webcrypto_check.mjs: %v\n%s", err, out)
	}
	t.Logf("webcrypto_check.mjs: %s", out)
}
