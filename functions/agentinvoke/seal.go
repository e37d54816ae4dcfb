package function

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/agentchat/agentchat/sdk/e2ee"
)

// ledgerBox seals what the ledger keeps of a call's tool steps — what the
// model asked the tools, and what they answered, which quote the
// conversation — so that MongoDB holds no plaintext of it, as it holds
// only the reply's ciphertext. The key is derived from the agent's
// private key (HKDF-SHA256), which only its runtime holds: any instance
// that takes the call over opens what another sealed. Each sealed value
// is bound to its ledger _id (the associated data), so that one cannot
// stand in for another.
type ledgerBox struct{ aead cipher.AEAD }

// ledgerKeyInfo names the derived key's purpose (HKDF info).
const ledgerKeyInfo = "agentchat agent-invoke ledger v1"

func newLedgerBox(k *e2ee.PrivateKey) (ledgerBox, error) {
	if k == nil {
		return ledgerBox{}, errors.New("agent-invoke: ledger box: no key")
	}
	key, err := hkdf.Key(sha256.New, k.Bytes(), nil, ledgerKeyInfo, 32)
	if err != nil {
		return ledgerBox{}, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return ledgerBox{}, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return ledgerBox{}, err
	}
	return ledgerBox{aead: aead}, nil
}

// seal is v as JSON, encrypted under the box's key for ad: nonce ‖ ciphertext.
func (b ledgerBox) seal(ad string, v any) ([]byte, error) {
	plain, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, b.aead.NonceSize(), b.aead.NonceSize()+len(plain)+b.aead.Overhead())
	rand.Read(nonce)
	return b.aead.Seal(nonce, nonce, plain, []byte(ad)), nil
}

// open decrypts what seal made for ad into v.
func (b ledgerBox) open(ad string, sealed []byte, v any) error {
	n := b.aead.NonceSize()
	if len(sealed) < n {
		return errors.New("agent-invoke: ledger box: too short")
	}
	plain, err := b.aead.Open(nil, sealed[:n], sealed[n:], []byte(ad))
	if err != nil {
		return fmt.Errorf("agent-invoke: ledger box: %w", err)
	}
	return json.Unmarshal(plain, v)
}
