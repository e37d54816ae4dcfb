package e2ee

import (
	"encoding/json"
	"os"
	"os/exec"
	"testing"
)

// primitivesPath holds the published vectors of the primitives beside the
// v1 envelope (RFC 9180 A.1.1, RFC 8032 7.1) and our negative cases; the
// source of each is recorded in the file. testdata/primitives_check.js runs
// the same file through web/hpke.js and web/ed25519.js.
const primitivesPath = "testdata/primitives.json"

type primitivesFile struct {
	HPKE struct {
		Vectors []hpkeVector `json:"vectors"`
	} `json:"hpke"`
	Ed25519 struct {
		Vectors []struct {
			Name      string   `json:"name"`
			SecretKey hexBytes `json:"secretKey"`
			PublicKey hexBytes `json:"publicKey"`
			Message   hexBytes `json:"message"`
			Signature hexBytes `json:"signature"`
		} `json:"vectors"`
		Verify []struct {
			Name      string   `json:"name"`
			PublicKey hexBytes `json:"publicKey"`
			Message   hexBytes `json:"message"`
			Signature hexBytes `json:"signature"`
			Valid     bool     `json:"valid"`
		} `json:"verify"`
		Keys []struct {
			Name      string   `json:"name"`
			PublicKey hexBytes `json:"publicKey"`
			Error     string   `json:"error"` // "", "low_order", "non_canonical", "not_a_point"
		} `json:"keys"`
	} `json:"ed25519"`
}

// hpkeVector is one RFC 9180 vector, in the CFRG test-vectors.json field
// names (plus seq: the RFC lists only some sequence numbers).
type hpkeVector struct {
	Mode, KEMID, KDFID, AEADID int
	Info                       hexBytes `json:"info"`
	IkmE, PkEm, SkEm           hexBytes
	IkmR, PkRm, SkRm           hexBytes
	Enc                        hexBytes `json:"enc"`
	Key                        hexBytes `json:"key"`
	BaseNonce                  hexBytes `json:"base_nonce"`
	Encryptions                []struct {
		Seq   uint64   `json:"seq"`
		PT    hexBytes `json:"pt"`
		AAD   hexBytes `json:"aad"`
		Nonce hexBytes `json:"nonce"`
		CT    hexBytes `json:"ct"`
	} `json:"encryptions"`
	Exports []struct {
		Context hexBytes `json:"exporter_context"`
		L       int      `json:"L"`
		Value   hexBytes `json:"exported_value"`
	} `json:"exports"`
}

func (v *hpkeVector) UnmarshalJSON(b []byte) error {
	type plain hpkeVector
	var aux struct {
		plain
		Mode   int      `json:"mode"`
		KEMID  int      `json:"kem_id"`
		KDFID  int      `json:"kdf_id"`
		AEADID int      `json:"aead_id"`
		IkmE   hexBytes `json:"ikmE"`
		PkEm   hexBytes `json:"pkEm"`
		SkEm   hexBytes `json:"skEm"`
		IkmR   hexBytes `json:"ikmR"`
		PkRm   hexBytes `json:"pkRm"`
		SkRm   hexBytes `json:"skRm"`
	}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	*v = hpkeVector(aux.plain)
	v.Mode, v.KEMID, v.KDFID, v.AEADID = aux.Mode, aux.KEMID, aux.KDFID, aux.AEADID
	v.IkmE, v.PkEm, v.SkEm, v.IkmR, v.PkRm, v.SkRm = aux.IkmE, aux.PkEm, aux.SkEm, aux.IkmR, aux.PkRm, aux.SkRm
	return nil
}

func loadPrimitives(t *testing.T) *primitivesFile {
	t.Helper()
	b, err := os.ReadFile(primitivesPath)
	if err != nil {
		t.Fatal(err)
	}
	var f primitivesFile
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("%s: %v", primitivesPath, err)
	}
	if len(f.HPKE.Vectors) == 0 || len(f.Ed25519.Vectors) != 5 || len(f.Ed25519.Verify) == 0 || len(f.Ed25519.Keys) == 0 {
		t.Fatalf("%s: a section is missing", primitivesPath)
	}
	return &f
}

// TestPrimitivesWebCrypto runs testdata/primitives_check.js (through
// primitives_node.mjs) over the same file with the browser client's own
// modules, web/hpke.js and web/ed25519.js, on Node's WebCrypto. The same
// check runs in headless Chromium in tests/e2e (TestPrimitivesInChromium).
func TestPrimitivesWebCrypto(t *testing.T) {
	node := tool(t, "node", "apt-get install -y nodejs")
	out, err := exec.Command(node, "testdata/primitives_node.mjs", primitivesPath).CombinedOutput()
	if err != nil {
		t.Fatalf("primitives_node.mjs: %v\n%s", err, out)
	}
	t.Logf("primitives_node.mjs: %s", out)
}
