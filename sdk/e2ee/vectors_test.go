package e2ee

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/vectors.json from the deterministic inputs")

const vectorsPath = "testdata/vectors.json"

// hexBytes is lower-case hex in the vectors file.
type hexBytes []byte

func (h hexBytes) MarshalJSON() ([]byte, error) { return json.Marshal(hex.EncodeToString(h)) }

func (h *hexBytes) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	d, err := hex.DecodeString(s)
	*h = d
	return err
}

type vectorFile struct {
	Comment []string      `json:"comment"`
	Vectors []vector      `json:"vectors"`
	Media   []mediaVector `json:"media"`
}

type vectorAD struct {
	Conversation    string `json:"conversation"`
	SenderDevice    string `json:"senderDevice"`
	ClientMessageID string `json:"clientMessageId"`
}

type vector struct {
	Name         string            `json:"name"`
	AD           vectorAD          `json:"ad"`
	ADBytes      hexBytes          `json:"adBytes"`
	ContentText  string            `json:"contentText"` // the content as UTF-8 (all vectors' content is JSON text)
	Content      hexBytes          `json:"content"`
	Random       hexBytes          `json:"random"` // every random byte Seal read, in order
	MessageKey   hexBytes          `json:"messageKey"`
	ContentNonce hexBytes          `json:"contentNonce"`
	Commitment   hexBytes          `json:"commitment"`
	Plaintext    hexBytes          `json:"plaintext"` // framed: commitment || content || 0x80 || zeros
	Recipients   []vectorRecipient `json:"recipients"`
	Envelope     *Envelope         `json:"envelope"`     // for reading
	EnvelopeJSON string            `json:"envelopeJSON"` // the exact bytes json.Marshal gives
}

type vectorRecipient struct {
	Device           string   `json:"device"`
	PrivateKey       hexBytes `json:"privateKey"`
	PublicKey        hexBytes `json:"publicKey"`
	EphemeralPrivate hexBytes `json:"ephemeralPrivate"`
	EphemeralPublic  hexBytes `json:"ephemeralPublic"`
	Shared           hexBytes `json:"shared"`
	Salt             hexBytes `json:"salt"`
	WrapKey          hexBytes `json:"wrapKey"`
	WrapNonce        hexBytes `json:"wrapNonce"`
	Wrapped          hexBytes `json:"wrapped"`
}

type mediaVector struct {
	Name   string   `json:"name"`
	Data   hexBytes `json:"data"`
	Random hexBytes `json:"random"` // key (32) || nonce (12)
	Blob   hexBytes `json:"blob"`
	SHA256 string   `json:"sha256"`
}

// vectorInput is what a vector is generated from.
type vectorInput struct {
	name    string
	ad      AssociatedData
	content Content
	devices []string
}

var vectorInputs = []vectorInput{
	{
		name:    "one recipient, short text",
		ad:      AssociatedData{Conversation: "conv-7Hq2", SenderDevice: "dev-alice-phone", ClientMessageID: "01J9Z8K6W1"},
		content: Content{Text: "hello, agent"},
		devices: []string{"dev-bob-laptop"},
	},
	{
		name:    "three recipients, unicode text and a reply",
		ad:      AssociatedData{Conversation: "conv-group-42", SenderDevice: "dev-alice-phone", ClientMessageID: "msg:0002"},
		content: Content{Text: "¿Qué tal? 👋 <b>&</b> — ünïcödé", ReplyTo: 41},
		devices: []string{"dev-alice-laptop", "dev-bob-laptop", "dev-agent-weather"},
	},
	{
		name: "two recipients, media, content over one block",
		ad:   AssociatedData{Conversation: "conv-7Hq2", SenderDevice: "dev-bob-laptop", ClientMessageID: "b-17"},
		content: Content{Text: "the photo from yesterday", Media: &Media{
			ID: "media-01J9ZA", Type: "image/jpeg", Size: 48213, Name: "IMG_2041.jpg", Width: 1024, Height: 768,
			Key:    hexBytes(mustHexString("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")),
			SHA256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		}},
		devices: []string{"dev-alice-phone", "dev-bob-phone"},
	},
	{
		name:    "agent partial",
		ad:      PartialAD("conv-7Hq2", "dev-agent-weather", 41, 0),
		content: Content{Text: "Sunny, 24 °C"},
		devices: []string{"dev-alice-phone", "dev-alice-laptop"},
	},
}

func mustHexString(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// vectorKey is a recipient's fixed private key: SHA-256 of a label.
func vectorKey(device string) []byte {
	k := sha256.Sum256([]byte("agentchat/e2ee/v1 test vector key " + device))
	return k[:]
}

// makeVectors builds the whole file from vectorInputs and seeded randomness.
func makeVectors(t *testing.T) vectorFile {
	f := vectorFile{Comment: []string{
		"agentchat end-to-end encryption test vectors, format v1; see docs/e2ee.md.",
		"Byte fields are lower-case hex; envelope fields are standard base64, as on the wire.",
		"Seal reads `random` in order: messageKey (32), contentNonce (12), then per recipient ephemeralPrivate (32), wrapNonce (12).",
		"Regenerate with: go test ./e2ee -run TestVectors -update (in sdk/).",
	}}
	for _, in := range vectorInputs {
		content, err := in.content.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		random := make([]byte, 44+44*len(in.devices))
		newSeededReader("agentchat/e2ee/v1 test vector " + in.name).Read(random)
		v := vector{
			Name:         in.name,
			AD:           vectorAD{in.ad.Conversation, in.ad.SenderDevice, in.ad.ClientMessageID},
			ADBytes:      in.ad.Bytes(),
			ContentText:  string(content),
			Content:      content,
			Random:       random,
			MessageKey:   random[:32],
			ContentNonce: random[32:44],
		}
		v.Commitment = commitment(v.MessageKey)
		v.Plaintext = frame(v.Commitment, content)
		var rs []Recipient
		for i, d := range in.devices {
			priv, _ := ParsePrivateKey(vectorKey(d))
			r := random[44+44*i:]
			eph, _ := ParsePrivateKey(r[:32])
			shared, err := eph.k.ECDH(priv.PublicKey())
			if err != nil {
				t.Fatal(err)
			}
			salt := append(eph.PublicKeyBytes(), priv.PublicKeyBytes()...)
			v.Recipients = append(v.Recipients, vectorRecipient{
				Device: d, PrivateKey: priv.Bytes(), PublicKey: priv.PublicKeyBytes(),
				EphemeralPrivate: r[:32], EphemeralPublic: eph.PublicKeyBytes(),
				Shared: shared, Salt: salt, WrapKey: wrapKey(shared, eph.PublicKeyBytes(), priv.PublicKeyBytes()),
				WrapNonce: r[32:44],
			})
			rs = append(rs, Recipient{Device: d, PublicKey: priv.PublicKey()})
		}
		env, err := sealWith(bytes.NewReader(random), content, in.ad, rs)
		if err != nil {
			t.Fatal(err)
		}
		for i := range v.Recipients {
			v.Recipients[i].Wrapped = env.Keys[i].Wrapped
		}
		b, _ := json.Marshal(env)
		v.Envelope, v.EnvelopeJSON = env, string(b)
		f.Vectors = append(f.Vectors, v)
	}
	for _, m := range []struct{ name, data string }{
		{"short attachment", "a small attachment, not padded"},
		{"empty attachment", ""},
	} {
		random := make([]byte, 44)
		newSeededReader("agentchat/e2ee/v1 test vector media " + m.name).Read(random)
		sm, err := sealMediaWith(bytes.NewReader(random), []byte(m.data))
		if err != nil {
			t.Fatal(err)
		}
		f.Media = append(f.Media, mediaVector{Name: m.name, Data: []byte(m.data), Random: random, Blob: sm.Blob, SHA256: sm.SHA256})
	}
	return f
}

// TestVectors checks that Seal, replaying each vector's randomness,
// reproduces the stored envelope byte for byte with the stored intermediate
// values, and that every recipient opens it.
func TestVectors(t *testing.T) {
	if *update {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(makeVectors(t)); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(vectorsPath, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := os.ReadFile(vectorsPath)
	if err != nil {
		t.Fatal(err)
	}
	var f vectorFile
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	if got, want := len(f.Vectors), len(vectorInputs); got != want {
		t.Fatalf("%d vectors in %s, want %d", got, vectorsPath, want)
	}
	for _, v := range f.Vectors {
		t.Run(v.Name, func(t *testing.T) { checkVector(t, v) })
	}
	for _, m := range f.Media {
		t.Run("media/"+m.Name, func(t *testing.T) {
			sm, err := sealMediaWith(bytes.NewReader(m.Random), m.Data)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(sm.Blob, m.Blob) || sm.SHA256 != m.SHA256 {
				t.Fatalf("SealMedia = %x (%s), want %x (%s)", sm.Blob, sm.SHA256, m.Blob, m.SHA256)
			}
			got, err := OpenMedia(m.Blob, m.Random[:32])
			if err != nil || !bytes.Equal(got, m.Data) {
				t.Fatalf("OpenMedia = %q, %v; want %q", got, err, m.Data)
			}
		})
	}
}

func checkVector(t *testing.T, v vector) {
	ad := AssociatedData{v.AD.Conversation, v.AD.SenderDevice, v.AD.ClientMessageID}
	eq := func(what string, got, want []byte) {
		t.Helper()
		if !bytes.Equal(got, want) {
			t.Errorf("%s = %x, want %x", what, got, want)
		}
	}
	eq("ad bytes", ad.Bytes(), v.ADBytes)
	if string(v.Content) != v.ContentText {
		t.Errorf("content and contentText differ")
	}
	eq("message key", v.Random[:32], v.MessageKey)
	eq("content nonce", v.Random[32:44], v.ContentNonce)
	eq("commitment", commitment(v.MessageKey), v.Commitment)
	eq("plaintext", frame(v.Commitment, v.Content), v.Plaintext)

	var rs []Recipient
	for i, r := range v.Recipients {
		priv, err := ParsePrivateKey(r.PrivateKey)
		if err != nil {
			t.Fatal(err)
		}
		eq(r.Device+" public key", priv.PublicKeyBytes(), r.PublicKey)
		eph, err := ParsePrivateKey(r.EphemeralPrivate)
		if err != nil {
			t.Fatal(err)
		}
		eq(r.Device+" ephemeral private", v.Random[44+44*i:][:32], r.EphemeralPrivate)
		eq(r.Device+" wrap nonce", v.Random[44+44*i+32:][:12], r.WrapNonce)
		eq(r.Device+" ephemeral public", eph.PublicKeyBytes(), r.EphemeralPublic)
		shared, err := eph.k.ECDH(priv.PublicKey())
		if err != nil {
			t.Fatal(err)
		}
		eq(r.Device+" shared", shared, r.Shared)
		eq(r.Device+" salt", append(eph.PublicKeyBytes(), r.PublicKey...), r.Salt)
		eq(r.Device+" wrap key", wrapKey(shared, r.EphemeralPublic, r.PublicKey), r.WrapKey)
		rs = append(rs, Recipient{Device: r.Device, PublicKey: priv.PublicKey()})
	}

	rand := bytes.NewReader(v.Random)
	env, err := sealWith(rand, v.Content, ad, rs)
	if err != nil {
		t.Fatal(err)
	}
	if rand.Len() != 0 {
		t.Errorf("Seal left %d random bytes unread", rand.Len())
	}
	got, _ := json.Marshal(env)
	if string(got) != v.EnvelopeJSON {
		t.Errorf("Seal gave\n%s\nwant\n%s", got, v.EnvelopeJSON)
	}
	stored, _ := json.Marshal(v.Envelope)
	if string(stored) != v.EnvelopeJSON {
		t.Errorf("envelope and envelopeJSON differ")
	}
	for i, r := range v.Recipients {
		eq(r.Device+" wrapped", env.Keys[i].Wrapped, r.Wrapped)
		priv, _ := ParsePrivateKey(r.PrivateKey)
		content, err := Open(v.Envelope, ad, r.Device, priv)
		if err != nil {
			t.Fatalf("Open as %s: %v", r.Device, err)
		}
		eq("Open as "+r.Device, content, v.Content)
		if _, err := UnmarshalContent(content); err != nil {
			t.Errorf("content of %s: %v", r.Device, err)
		}
	}
}
