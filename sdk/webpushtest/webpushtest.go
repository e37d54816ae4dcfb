// Package webpushtest is a Web Push service for tests: an RFC 8030
// endpoint per subscription it hands out, which checks every push the way
// a browser vendor's service and the browser would — the RFC 8292 VAPID
// token (an ES256 JWT for this service's origin, signed by the expected
// application server key) and the RFC 8291 message encryption, which it
// undoes with the subscription's private keys — and keeps what it
// received for the test to inspect. Only the standard library: the
// payload is decrypted independently of whatever library sent it.
package webpushtest

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Subscription is what a browser's PushSubscription.toJSON() gives, for
// one subscriber of this service.
type Subscription struct {
	Endpoint string `json:"endpoint"`
	Keys     struct {
		P256dh string `json:"p256dh"`
		Auth   string `json:"auth"`
	} `json:"keys"`
}

// Push is one push the service accepted.
type Push struct {
	Endpoint  string
	Header    http.Header
	Body      []byte // as it came over the wire (encrypted)
	Plaintext []byte // the decrypted payload, padding removed
	Subject   string // the VAPID token's sub
}

// Server is the push service. Pushes it cannot verify or decrypt are
// answered 400/401/403 and recorded in Errors.
type Server struct {
	*httptest.Server
	vapid *ecdsa.PublicKey

	mu     sync.Mutex
	subs   map[string]*subscriber // by endpoint
	pushes []Push
	errs   []string
	notify chan struct{} // closed and replaced at every push
}

type subscriber struct {
	key    *ecdh.PrivateKey
	auth   []byte
	status int // answered instead of accepting; 0: accept
}

// New starts a push service that accepts pushes signed by the VAPID key
// pair whose public key is vapidPublic (base64url of the 65-byte
// uncompressed point). Close it when done.
func New(vapidPublic string) (*Server, error) {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(vapidPublic, "="))
	if err != nil {
		return nil, fmt.Errorf("webpushtest: vapid key: %w", err)
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), b)
	if err != nil {
		return nil, fmt.Errorf("webpushtest: vapid key: %w", err)
	}
	s := &Server{vapid: pub, subs: map[string]*subscriber{}, notify: make(chan struct{})}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s, nil
}

// Prefix is what PUSH_ENDPOINTS must allow for this service's endpoints.
func (s *Server) Prefix() string { return s.URL + "/push/" }

// Subscribe makes a subscriber with fresh keys, as a browser does.
func (s *Server) Subscribe() Subscription {
	key, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	auth := make([]byte, 16)
	_, _ = rand.Read(auth)
	id := make([]byte, 12)
	_, _ = rand.Read(id)
	var sub Subscription
	sub.Endpoint = s.Prefix() + base64.RawURLEncoding.EncodeToString(id)
	sub.Keys.P256dh = base64.RawURLEncoding.EncodeToString(key.PublicKey().Bytes())
	sub.Keys.Auth = base64.RawURLEncoding.EncodeToString(auth)
	s.mu.Lock()
	s.subs[sub.Endpoint] = &subscriber{key: key, auth: auth}
	s.mu.Unlock()
	return sub
}

// Answer makes endpoint answer status to every push from now on (410
// Gone, as a push service does for a subscription the user revoked; 503,
// as one that is down), without taking it; 0 makes it accept again.
func (s *Server) Answer(endpoint string, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sub := s.subs[endpoint]; sub != nil {
		sub.status = status
	}
}

// Pushes returns the pushes accepted for endpoint, or for every endpoint
// when endpoint is "".
func (s *Server) Pushes(endpoint string) []Push {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Push
	for _, p := range s.pushes {
		if endpoint == "" || p.Endpoint == endpoint {
			out = append(out, p)
		}
	}
	return out
}

// Changed is closed at the next push the service receives (accepted or
// not): wait on it instead of sleeping.
func (s *Server) Changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.notify
}

// Errors are the reasons pushes were refused.
func (s *Server) Errors() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.errs...)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	status, why := s.receive(r)
	s.mu.Lock()
	if why != "" {
		s.errs = append(s.errs, why)
	}
	close(s.notify)
	s.notify = make(chan struct{})
	s.mu.Unlock()
	if status != http.StatusCreated {
		http.Error(w, why, status)
		return
	}
	w.Header().Set("Location", s.URL+"/message/"+strconv.FormatInt(time.Now().UnixNano(), 36))
	w.WriteHeader(http.StatusCreated)
}

func (s *Server) receive(r *http.Request) (int, string) {
	endpoint := s.URL + r.URL.Path
	s.mu.Lock()
	sub := s.subs[endpoint]
	answer := 0
	if sub != nil {
		answer = sub.status
	}
	s.mu.Unlock()
	switch {
	case r.Method != http.MethodPost:
		return http.StatusMethodNotAllowed, "method " + r.Method
	case sub == nil:
		return http.StatusNotFound, "no such subscription " + r.URL.Path
	case answer != 0:
		return answer, ""
	}
	if _, err := strconv.Atoi(r.Header.Get("TTL")); err != nil { // RFC 8030 5.2: required
		return http.StatusBadRequest, "TTL header missing or not a number"
	}
	subject, err := s.checkVAPID(r.Header.Get("Authorization"))
	if err != nil {
		return http.StatusUnauthorized, "vapid: " + err.Error()
	}
	if ce := r.Header.Get("Content-Encoding"); ce != "aes128gcm" {
		return http.StatusBadRequest, "Content-Encoding " + ce + ", want aes128gcm"
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 8192))
	if err != nil {
		return http.StatusBadRequest, err.Error()
	}
	if len(body) > 4096 { // RFC 8030 7.2: a service may refuse more; the major ones do
		return http.StatusRequestEntityTooLarge, fmt.Sprintf("body of %d bytes", len(body))
	}
	plain, err := Decrypt(body, sub.key, sub.auth)
	if err != nil {
		return http.StatusBadRequest, "rfc8291: " + err.Error()
	}
	s.mu.Lock()
	s.pushes = append(s.pushes, Push{Endpoint: endpoint, Header: r.Header.Clone(), Body: body, Plaintext: plain, Subject: subject})
	s.mu.Unlock()
	return http.StatusCreated, ""
}

// checkVAPID verifies "vapid t=<jwt>, k=<key>" (RFC 8292): k is the
// expected key, the JWT is ES256 by it, for this origin, not expired
// and not valid for more than 24 hours, with a mailto: or https: subject.
func (s *Server) checkVAPID(h string) (string, error) {
	rest, ok := strings.CutPrefix(h, "vapid ")
	if !ok {
		return "", errors.New("not a vapid Authorization")
	}
	var tok, k string
	for _, part := range strings.Split(rest, ",") {
		name, value, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch name {
		case "t":
			tok = value
		case "k":
			k = value
		}
	}
	key, err := base64.RawURLEncoding.DecodeString(k)
	want, _ := s.vapid.Bytes()
	if err != nil || !bytes.Equal(key, want) {
		return "", errors.New("k is not the application server's key")
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return "", errors.New("t is not a JWT")
	}
	var head struct{ Alg, Typ string }
	if err := decodePart(parts[0], &head); err != nil || head.Alg != "ES256" {
		return "", fmt.Errorf("JWT header %+v: want ES256", head)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || len(sig) != 64 {
		return "", errors.New("signature is not 64 bytes (r||s)")
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if !ecdsa.Verify(s.vapid, digest[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
		return "", errors.New("signature does not verify")
	}
	var claims struct {
		Aud string `json:"aud"`
		Exp int64  `json:"exp"`
		Sub string `json:"sub"`
	}
	if err := decodePart(parts[1], &claims); err != nil {
		return "", err
	}
	now := time.Now().Unix()
	switch {
	case claims.Aud != s.URL:
		return "", fmt.Errorf("aud %q, want %q", claims.Aud, s.URL)
	case claims.Exp <= now || claims.Exp > now+24*3600:
		return "", fmt.Errorf("exp %d is not within 24 h from now", claims.Exp)
	case !strings.HasPrefix(claims.Sub, "mailto:") && !strings.HasPrefix(claims.Sub, "https:"):
		return "", fmt.Errorf("sub %q: want mailto: or https:", claims.Sub)
	}
	return claims.Sub, nil
}

func decodePart(p string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(p)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// Decrypt undoes RFC 8291 (aes128gcm, RFC 8188) for the user agent with
// private key ua and authentication secret auth: one record, the
// application server's public key as the key id.
func Decrypt(body []byte, ua *ecdh.PrivateKey, auth []byte) ([]byte, error) {
	if len(body) < 21 {
		return nil, errors.New("shorter than the header")
	}
	salt, rs, idlen := body[:16], binary.BigEndian.Uint32(body[16:20]), int(body[20])
	if idlen != 65 || len(body) < 21+idlen {
		return nil, fmt.Errorf("key id of %d bytes, want the 65-byte server key", idlen)
	}
	asPub, err := ecdh.P256().NewPublicKey(body[21 : 21+idlen])
	if err != nil {
		return nil, err
	}
	record := body[21+idlen:]
	if rs < 18 || uint32(len(record)) > rs {
		return nil, fmt.Errorf("record of %d bytes with rs %d: want one record", len(record), rs)
	}
	secret, err := ua.ECDH(asPub)
	if err != nil {
		return nil, err
	}
	info := append(append([]byte("WebPush: info\x00"), ua.PublicKey().Bytes()...), asPub.Bytes()...)
	prkKey, err := hkdf.Extract(sha256.New, secret, auth)
	if err != nil {
		return nil, err
	}
	ikm, err := hkdf.Expand(sha256.New, prkKey, string(info), 32)
	if err != nil {
		return nil, err
	}
	prk, err := hkdf.Extract(sha256.New, ikm, salt)
	if err != nil {
		return nil, err
	}
	cek, err := hkdf.Expand(sha256.New, prk, "Content-Encoding: aes128gcm\x00", 16)
	if err != nil {
		return nil, err
	}
	nonce, err := hkdf.Expand(sha256.New, prk, "Content-Encoding: nonce\x00", 12)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(cek)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	plain, err := gcm.Open(nil, nonce, record, nil)
	if err != nil {
		return nil, fmt.Errorf("open: %w", err)
	}
	// The last record ends with the delimiter 2, then zero padding.
	i := len(plain) - 1
	for i >= 0 && plain[i] == 0 {
		i--
	}
	if i < 0 || plain[i] != 2 {
		return nil, errors.New("no last-record delimiter")
	}
	return plain[:i], nil
}
