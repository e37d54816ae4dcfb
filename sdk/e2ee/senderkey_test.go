package e2ee

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"testing"
)

func groupAD(i int) AssociatedData {
	return AssociatedData{Conversation: "conv-g", SenderDevice: "dev-alice-1", ClientMessageID: fmt.Sprintf("m-%d", i)}
}

// sealN seals n messages "text i" with sk, signed by sig.
func sealN(t *testing.T, sk *SenderKey, n int, agents []Recipient) []*Envelope {
	t.Helper()
	envs := make([]*Envelope, n)
	for i := range envs {
		env, err := SealGroup(sk, []byte(fmt.Sprintf("text %d", i)), groupAD(i), agents)
		if err != nil {
			t.Fatal(err)
		}
		envs[i] = env
	}
	return envs
}

func TestSenderKeyRoundTripInAndOutOfOrder(t *testing.T) {
	sk, err := NewSenderKey()
	if err != nil {
		t.Fatal(err)
	}
	rk, err := NewReceiverKey(sk.Distribution())
	if err != nil {
		t.Fatal(err)
	}
	first := bytes.Clone(sk.Chain)
	envs := sealN(t, sk, 6, nil)
	if sk.Index != 6 || bytes.Equal(sk.Chain, first) {
		t.Fatalf("sender did not move on: index %d", sk.Index)
	}
	for i, env := range envs {
		if env.V != Version2 || env.Epoch != sk.Epoch || env.Index != uint32(i) || len(env.Keys) != 0 {
			t.Fatalf("envelope %d: v %d epoch %d index %d keys %d", i, env.V, env.Epoch, env.Index, len(env.Keys))
		}
		if err := env.Validate(); err != nil {
			t.Fatal(err)
		}
	}
	for _, i := range []int{0, 3, 1, 5, 2, 4} { // out of order
		p, err := rk.Open(envs[i], groupAD(i))
		if err != nil || string(p) != fmt.Sprintf("text %d", i) {
			t.Fatalf("open %d: %q, %v", i, p, err)
		}
	}
	if len(rk.Skipped) != 0 || rk.Index != 6 {
		t.Fatalf("receiver keeps %d skipped keys at index %d, want 0 at 6", len(rk.Skipped), rk.Index)
	}
	for i := range envs { // each key opens once
		if _, err := rk.Open(envs[i], groupAD(i)); !errors.Is(err, ErrKeyUsed) {
			t.Fatalf("second open of %d: %v, want ErrKeyUsed", i, err)
		}
	}
}

func TestSenderKeyRefuses(t *testing.T) {
	sk, _ := NewSenderKey()
	d := sk.Distribution()
	envs := sealN(t, sk, 3, nil)
	other, _ := NewSenderKey()
	otherEnv := sealN(t, other, 1, nil)[0]

	rk, _ := NewReceiverKey(d)
	before := *rk
	tampered := *envs[1]
	tampered.Ciphertext = bytes.Clone(tampered.Ciphertext)
	tampered.Ciphertext[0] ^= 1
	moved := *envs[1]
	moved.Index = 2 // the key of another position
	far := *envs[2]
	far.Index = MaxSkip + 1
	for _, c := range []struct {
		name string
		env  *Envelope
		ad   AssociatedData
		want error
	}{
		{"tampered", &tampered, groupAD(1), ErrDecrypt},
		{"another index", &moved, groupAD(1), ErrDecrypt},
		{"another conversation", envs[1], AssociatedData{"conv-h", "dev-alice-1", "m-1"}, ErrDecrypt},
		{"another sender device", envs[1], AssociatedData{"conv-g", "dev-mallory", "m-1"}, ErrDecrypt},
		{"another epoch", otherEnv, groupAD(0), ErrEpoch},
		{"too far ahead", &far, groupAD(2), ErrSkip},
		{"a v1 envelope", &Envelope{V: 1, Nonce: make([]byte, 12), Ciphertext: make([]byte, 32), Keys: []WrappedKey{{Device: "d", Ephemeral: make([]byte, 32), Nonce: make([]byte, 12), Wrapped: make([]byte, 48)}}}, groupAD(0), ErrVersion},
	} {
		if _, err := rk.Open(c.env, c.ad); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	// Nothing that failed moved the state: every genuine message opens.
	if rk.Index != before.Index || !bytes.Equal(rk.Chain, before.Chain) || len(rk.Skipped) != 0 {
		t.Fatalf("failures changed the state: index %d, %d skipped", rk.Index, len(rk.Skipped))
	}
	for i, env := range envs {
		if _, err := rk.Open(env, groupAD(i)); err != nil {
			t.Fatalf("genuine %d after failures: %v", i, err)
		}
	}
}

// TestSenderKeyForwardSecrecy: a receiver's state taken after it read
// messages opens none of them, nor does the sender's; a receiver that
// joined with a later distribution cannot open what came before it.
func TestSenderKeyForwardSecrecy(t *testing.T) {
	sk, _ := NewSenderKey()
	rk, _ := NewReceiverKey(sk.Distribution())
	envs := sealN(t, sk, 3, nil)
	for i, env := range envs {
		if _, err := rk.Open(env, groupAD(i)); err != nil {
			t.Fatal(err)
		}
	}
	stolen := &ReceiverKey{Epoch: rk.Epoch, Index: rk.Index, Chain: bytes.Clone(rk.Chain)}
	senderStolen, _ := NewReceiverKey(sk.Distribution())
	late, _ := NewReceiverKey(sk.Distribution()) // a member added now
	for i, env := range envs {
		for name, k := range map[string]*ReceiverKey{"receiver's": stolen, "sender's": senderStolen, "late member's": late} {
			if _, err := k.Open(env, groupAD(i)); !errors.Is(err, ErrKeyUsed) {
				t.Errorf("%s state opened message %d: %v", name, i, err)
			}
		}
	}
	next := sealN(t, sk, 1, nil)[0]
	if _, err := late.Open(next, groupAD(0)); err != nil {
		t.Fatalf("late member cannot open what follows its distribution: %v", err)
	}
}

func TestSenderKeySkippedBounded(t *testing.T) {
	sk, _ := NewSenderKey()
	rk, _ := NewReceiverKey(sk.Distribution())
	envs := sealN(t, sk, MaxSkip+3, nil) // indexes 0 … MaxSkip+2
	if _, err := rk.Open(envs[MaxSkip], groupAD(MaxSkip)); err != nil {
		t.Fatalf("a jump of exactly MaxSkip: %v", err)
	}
	if len(rk.Skipped) != MaxSkip {
		t.Fatalf("%d skipped keys, want %d", len(rk.Skipped), MaxSkip)
	}
	// One more skipped (MaxSkip+1) goes over MaxSkipped: index 0 is dropped.
	if _, err := rk.Open(envs[MaxSkip+2], groupAD(MaxSkip+2)); err != nil {
		t.Fatal(err)
	}
	if len(rk.Skipped) != MaxSkipped {
		t.Fatalf("%d skipped keys kept, want the bound %d", len(rk.Skipped), MaxSkipped)
	}
	if _, err := rk.Open(envs[0], groupAD(0)); !errors.Is(err, ErrKeyUsed) {
		t.Fatalf("the oldest skipped key should be dropped: %v", err)
	}
	for _, i := range []int{1, MaxSkip - 1, MaxSkip + 1} {
		if _, err := rk.Open(envs[i], groupAD(i)); err != nil {
			t.Fatalf("skipped %d is kept: %v", i, err)
		}
	}
}

// TestSenderKeyAgents: an agent device opens a v2 envelope with its
// wrapped key (Open, as for v1), keeps no chain; people's devices do not
// need (or get) a key.
func TestSenderKeyAgents(t *testing.T) {
	ds := newDevices(t, 2)
	sk, _ := NewSenderKey()
	rk, _ := NewReceiverKey(sk.Distribution())
	env, err := SealGroup(sk, []byte("hi agent"), groupAD(0), recipients(ds))
	if err != nil {
		t.Fatal(err)
	}
	if len(env.Keys) != 2 {
		t.Fatalf("%d keys", len(env.Keys))
	}
	for _, d := range ds {
		if p, err := Open(env, groupAD(0), d.id, d.priv); err != nil || string(p) != "hi agent" {
			t.Fatalf("agent %s: %q %v", d.id, p, err)
		}
	}
	if _, err := Open(env, groupAD(0), "dev-person", ds[0].priv); !errors.Is(err, ErrNotRecipient) {
		t.Fatalf("a person's device has no wrapped key: %v", err)
	}
	if p, err := rk.Open(env, groupAD(0)); err != nil || string(p) != "hi agent" {
		t.Fatalf("member: %q %v", p, err)
	}
}

func TestSenderKeySigned(t *testing.T) {
	signer, _ := GenerateSigningKey()
	sk, _ := NewSenderKey()
	env := sealN(t, sk, 2, nil)[1]
	SignEnvelope(env, "conv-g", "dev-alice-1", signer)
	if err := VerifyEnvelope(env, "conv-g", "dev-alice-1", signer.PublicKeyBytes()); err != nil {
		t.Fatal(err)
	}
	for name, change := range map[string]func(e *Envelope){
		"epoch": func(e *Envelope) { e.Epoch++ },
		"index": func(e *Envelope) { e.Index++ },
		"ct": func(e *Envelope) {
			e.Ciphertext = append(bytes.Clone(e.Ciphertext[:len(e.Ciphertext)-1]), e.Ciphertext[len(e.Ciphertext)-1]^1)
		},
		"v": func(e *Envelope) { e.V = 1 },
	} {
		c := *env
		change(&c)
		if err := VerifyEnvelope(&c, "conv-g", "dev-alice-1", signer.PublicKeyBytes()); !errors.Is(err, ErrSignature) {
			t.Errorf("changed %s: %v", name, err)
		}
	}
}

// TestSenderKeyContent: a distribution rides in Content and is checked.
func TestSenderKeyContent(t *testing.T) {
	sk, _ := NewSenderKey()
	d := sk.Distribution()
	b, err := Content{SenderKey: &d}.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	c, err := UnmarshalContent(b)
	if err != nil || c.SenderKey == nil || c.SenderKey.Epoch != d.Epoch || !bytes.Equal(c.SenderKey.ChainKey, d.ChainKey) {
		t.Fatalf("%+v %v", c, err)
	}
	for _, bad := range []string{`{"text":"","senderKey":{"epoch":0,"chainKey":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}}`,
		`{"text":"","senderKey":{"epoch":3,"chainKey":"AAAA"}}`} {
		if _, err := UnmarshalContent([]byte(bad)); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}

// --- vectors: testdata/senderkeys.json, also checked by the browser ---

const senderKeyVectorsPath = "testdata/senderkeys.json"

type skChainStep struct {
	Index      uint32   `json:"index"`
	ChainKey   hexBytes `json:"chainKey"`
	MessageKey hexBytes `json:"messageKey"`
}

type skAgent struct {
	Device     string   `json:"device"`
	PrivateKey hexBytes `json:"privateKey"`
	PublicKey  hexBytes `json:"publicKey"`
}

type skMessage struct {
	Name         string    `json:"name"`
	AD           vectorAD  `json:"ad"`
	ADBytes      hexBytes  `json:"adBytes"`
	ContentText  string    `json:"contentText"`
	Random       hexBytes  `json:"random"` // content nonce, then per agent: ephemeral private key, wrap nonce
	MessageKey   hexBytes  `json:"messageKey"`
	Plaintext    hexBytes  `json:"plaintext"`
	Agents       []skAgent `json:"agents"`
	SignedBytes  hexBytes  `json:"signedBytes"`
	Envelope     *Envelope `json:"envelope"`
	EnvelopeJSON string    `json:"envelopeJSON"`
}

type skVectorFile struct {
	Comment       []string              `json:"comment"`
	SenderRandom  hexBytes              `json:"senderRandom"` // epoch (4, big-endian) || chain key (32): NewSenderKey's read
	Distribution  SenderKeyDistribution `json:"distribution"`
	Distribution2 string                `json:"distributionJSON"` // Content{SenderKey} as a client seals it
	Chain         []skChainStep         `json:"chain"`
	SigningSeed   hexBytes              `json:"signingSeed"`
	SigningPublic hexBytes              `json:"signingPublic"`
	// Messages are sealed at chain indexes 0, 1, 2, 3 and listed in the
	// order a receiver opens them (3 before 1 and 2: skipped keys).
	Messages []skMessage `json:"messages"`
}

func buildSenderKeyVectors(t *testing.T) skVectorFile {
	f := skVectorFile{Comment: []string{
		"agentchat sender keys (envelope v2), docs/e2ee.md \"Sender keys\". Hex unless noted; envelope fields are standard base64.",
		"chain: messageKey_i = HKDF-SHA256(chainKey_i, salt empty, info \"agentchat/e2ee/v2/message-key\"), chainKey_i+1 = HKDF-SHA256(chainKey_i, salt empty, info \"agentchat/e2ee/v2/chain-key\"), 32 bytes each.",
		"a message: plaintext = commitment(messageKey) || content || 0x80 || zeros (as v1), ct = AES-256-GCM(messageKey, nonce, plaintext, ad); agents get messageKey wrapped as in v1; sig = Ed25519 over signedBytes.",
		"messages are listed in the order a receiver opens them with one state started from distribution; regenerate: cd sdk && go test ./e2ee -run TestSenderKeyVectors -update",
	}}
	r := newSeededReader("agentchat/e2ee/v2 sender key vectors")
	sr := &teeReader{r: r}
	sk, err := newSenderKey(sr)
	if err != nil {
		t.Fatal(err)
	}
	f.SenderRandom = sr.got
	f.Distribution = sk.Distribution()
	db, _ := Content{SenderKey: &f.Distribution}.Marshal()
	f.Distribution2 = string(db)
	ck := bytes.Clone(sk.Chain)
	for i := uint32(0); i < 4; i++ {
		mk, next := chainStep(ck)
		f.Chain = append(f.Chain, skChainStep{Index: i, ChainKey: bytes.Clone(ck), MessageKey: mk})
		ck = next
	}
	seed := make([]byte, 32)
	_, _ = r.Read(seed)
	signer, _ := ParseSigningKey(seed)
	f.SigningSeed, f.SigningPublic = seed, signer.PublicKeyBytes()

	agent := skAgent{Device: "dev-agent-calc", PrivateKey: vectorKey("dev-agent-calc")}
	ak, _ := ParsePrivateKey(agent.PrivateKey)
	agent.PublicKey = ak.PublicKeyBytes()
	inputs := []struct {
		name, text string
		agents     []skAgent
	}{
		{"index 0, short text", `{"text":"hello, group"}`, nil},
		{"index 1, with an agent member", `{"text":"@calc 6*7 ¿qué? 👋","replyTo":12}`, []skAgent{agent}},
		{"index 2", `{"text":"two"}`, nil},
		{"index 3", `{"text":"three"}`, nil},
	}
	msgs := make([]skMessage, len(inputs))
	for i, in := range inputs {
		ad := AssociatedData{Conversation: "conv-group-42", SenderDevice: "dev-alice-phone", ClientMessageID: fmt.Sprintf("g-%d", i)}
		var rs []Recipient
		for _, a := range in.agents {
			k, _ := ParsePrivateKey(a.PrivateKey)
			rs = append(rs, Recipient{Device: a.Device, PublicKey: k.PublicKey()})
		}
		tr := &teeReader{r: r}
		env, err := sealGroupWith(tr, sk, []byte(in.text), ad, rs)
		if err != nil {
			t.Fatal(err)
		}
		SignEnvelope(env, ad.Conversation, ad.SenderDevice, signer)
		ej, _ := json.Marshal(env)
		msgs[i] = skMessage{Name: in.name, AD: vectorAD{ad.Conversation, ad.SenderDevice, ad.ClientMessageID},
			ADBytes: ad.Bytes(), ContentText: in.text, Random: tr.got, MessageKey: f.Chain[i].MessageKey,
			Plaintext: frame(commitment(f.Chain[i].MessageKey), []byte(in.text)), Agents: in.agents,
			SignedBytes: env.SignedBytes(ad.Conversation, ad.SenderDevice), Envelope: env, EnvelopeJSON: string(ej)}
	}
	f.Messages = []skMessage{msgs[0], msgs[3], msgs[1], msgs[2]}
	return f
}

// teeReader records what it hands out.
type teeReader struct {
	r   *seededReader
	got []byte
}

func (t *teeReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	t.got = append(t.got, p[:n]...)
	return n, err
}

// TestSenderKeyVectors pins every byte of the sender-key scheme: the file
// is what a fresh build produces, and opening it as a receiver works.
func TestSenderKeyVectors(t *testing.T) {
	f := buildSenderKeyVectors(t)
	want, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	want = append(want, '\n')
	if *update {
		if err := os.WriteFile(senderKeyVectorsPath, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(senderKeyVectorsPath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs from what this build produces (run with -update only for a new format)", senderKeyVectorsPath)
	}
	var read skVectorFile
	if err := json.Unmarshal(got, &read); err != nil {
		t.Fatal(err)
	}
	rk, err := NewReceiverKey(read.Distribution)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range read.Messages {
		ad := AssociatedData{m.AD.Conversation, m.AD.SenderDevice, m.AD.ClientMessageID}
		p, err := rk.Open(m.Envelope, ad)
		if err != nil || string(p) != m.ContentText {
			t.Fatalf("%s: %q %v", m.Name, p, err)
		}
		if err := VerifyEnvelope(m.Envelope, ad.Conversation, ad.SenderDevice, read.SigningPublic); err != nil {
			t.Fatalf("%s: %v", m.Name, err)
		}
		for _, a := range m.Agents {
			k, _ := ParsePrivateKey(a.PrivateKey)
			if p, err := Open(m.Envelope, ad, a.Device, k); err != nil || string(p) != m.ContentText {
				t.Fatalf("%s: agent: %q %v", m.Name, p, err)
			}
		}
	}
}

// TestSenderKeysWebCrypto runs testdata/senderkeys_check.js (through
// senderkeys_node.mjs) over senderkeys.json with the browser client's own
// modules (web/senderkeys.js, web/e2ee.js, web/ed25519.js) on Node's
// WebCrypto; tests/e2e runs the same check in headless Chromium
// (TestSenderKeysInChromium).
func TestSenderKeysWebCrypto(t *testing.T) {
	node := tool(t, "node", "apt-get install -y nodejs")
	out, err := exec.Command(node, "testdata/senderkeys_node.mjs", senderKeyVectorsPath).CombinedOutput()
	if err != nil {
		t.Fatalf("senderkeys_node.mjs: %v\n%s", err, out)
	}
	t.Logf("senderkeys_node.mjs: %s", out)
}
