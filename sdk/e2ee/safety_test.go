package e2ee

import (
	"encoding/json"
	"os"
	"testing"
)

// safetyPath holds the safety number vectors: libsignal's published one
// and agentchat's multi-device ones, which the browser checks too.
const safetyPath = "testdata/safety_numbers.json"

type safetyDevice struct {
	PublicKey  hexBytes `json:"publicKey"`
	SigningKey hexBytes `json:"signingKey"`
}

type safetyFile struct {
	Iterations int `json:"iterations"`
	Vectors    []struct {
		Name, UserA, UserB string
		KeysA              hexBytes `json:"keysA"`
		KeysB              hexBytes `json:"keysB"`
		SafetyNumber       string   `json:"safetyNumber"`
	} `json:"vectors"`
	Devices []struct {
		Name, UserA, UserB         string
		DevicesA                   []safetyDevice `json:"devicesA"`
		DevicesB                   []safetyDevice `json:"devicesB"`
		KeysA                      hexBytes       `json:"keysA"`
		FingerprintA, FingerprintB string
		SafetyNumber               string `json:"safetyNumber"`
	} `json:"devices"`
}

func identities(ds []safetyDevice) []DeviceIdentity {
	out := make([]DeviceIdentity, len(ds))
	for i, d := range ds {
		out[i] = DeviceIdentity{PublicKey: d.PublicKey, SigningKey: d.SigningKey}
	}
	return out
}

// TestSafetyNumberVectors: Signal's published vector, and agentchat's
// multi-device identities, from either side.
func TestSafetyNumberVectors(t *testing.T) {
	raw, err := os.ReadFile(safetyPath)
	if err != nil {
		t.Fatal(err)
	}
	var f safetyFile
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	if f.Iterations != SafetyIterations || len(f.Vectors) == 0 || len(f.Devices) < 2 {
		t.Fatalf("%s: iterations %d or a section missing", safetyPath, f.Iterations)
	}
	for _, v := range f.Vectors {
		if got := SafetyNumber(v.UserA, v.KeysA, v.UserB, v.KeysB); got != v.SafetyNumber {
			t.Errorf("%s: %s, want %s", v.Name, got, v.SafetyNumber)
		}
		if got := SafetyNumber(v.UserB, v.KeysB, v.UserA, v.KeysA); got != v.SafetyNumber {
			t.Errorf("%s, from the other side: %s, want %s", v.Name, got, v.SafetyNumber)
		}
	}
	var numbers []string
	for _, v := range f.Devices {
		ka, kb := IdentityKeyBytes(identities(v.DevicesA)), IdentityKeyBytes(identities(v.DevicesB))
		if v.KeysA != nil && string(ka) != string(v.KeysA) {
			t.Errorf("%s: identity key bytes %x, want %x", v.Name, ka, []byte(v.KeysA))
		}
		if v.FingerprintA != "" && (Fingerprint(v.UserA, ka) != v.FingerprintA || Fingerprint(v.UserB, kb) != v.FingerprintB) {
			t.Errorf("%s: fingerprints %s %s", v.Name, Fingerprint(v.UserA, ka), Fingerprint(v.UserB, kb))
		}
		got := SafetyNumber(v.UserB, kb, v.UserA, ka)
		if got != v.SafetyNumber || len(got) != 60 {
			t.Errorf("%s: %s, want %s", v.Name, got, v.SafetyNumber)
		}
		numbers = append(numbers, got)
	}
	if numbers[0] == numbers[1] {
		t.Error("adding a device left the safety number as it was")
	}
	if got := FormatSafetyNumber(f.Vectors[0].SafetyNumber); got != "30035 44776 92869 39689 28698 76765 45825 75691 62576 84344 09180 79131" {
		t.Errorf("formatted: %q", got)
	}
}
