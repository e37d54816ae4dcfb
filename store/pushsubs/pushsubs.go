// Package pushsubs is the contract of Web Push subscriptions: at most one
// per device (the browser's PushSubscription: an RFC 8030 endpoint and the
// RFC 8291 keys its payloads are encrypted to). accounts writes them (the
// device sets and clears its own, and a revoked or deleted device loses
// it); the push function reads them and removes one its push service
// reports gone (404/410).
//
//	push_subscriptions {_id: <deviceId>, user, endpoint, p256dh, auth, updatedAt}
//
// One document per device, keyed by the device: setting again replaces,
// which is all the concurrency it needs (the last write wins, on FerretDB
// as on MongoDB). The keys are public keys and an authentication secret
// shared with the push function only: nothing in them reveals content.
package pushsubs

import (
	"context"
	"crypto/ecdh"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"
)

// Collection is the MongoDB collection of subscriptions.
const Collection = "push_subscriptions"

// Subscription is one device's Web Push subscription.
type Subscription struct {
	User     string
	Device   string
	Endpoint string // where the push service takes pushes (RFC 8030)
	// P256dh is the device's P-256 public key (65 bytes, uncompressed) and
	// Auth its 16-byte authentication secret, both base64url without
	// padding, as the browser's PushSubscription.toJSON() gives them.
	P256dh    string
	Auth      string
	UpdatedAt time.Time
}

// Store holds the subscriptions.
type Store interface {
	// Put sets s as its device's subscription, replacing any other.
	Put(ctx context.Context, s Subscription) error
	// Delete removes device's subscription; removing none is fine.
	Delete(ctx context.Context, device string) error
	// DeleteEndpoint removes device's subscription only while it still
	// names endpoint: a push service said that endpoint is gone, and a
	// subscription the device set since must stay.
	DeleteEndpoint(ctx context.Context, device, endpoint string) error
	// Get returns the subscriptions of those of devices that have one, in
	// no particular order.
	Get(ctx context.Context, devices []string) ([]Subscription, error)
}

// Sizes of a subscription's keys (RFC 8291, section 3).
const (
	P256dhSize = 65
	AuthSize   = 16
)

// DefaultEndpoints are the push services of the browsers people use:
// Chrome's and Edge's (FCM, WNS), Firefox's and Safari's. A subscription
// must point at one of the endpoints configured (PUSH_ENDPOINTS): the push
// function posts to it, and an arbitrary URL would let any user make the
// platform call any server (an internal one included).
var DefaultEndpoints = []string{
	"https://fcm.googleapis.com/",
	"https://updates.push.services.mozilla.com/",
	"https://web.push.apple.com/",
	"https://*.notify.windows.com/",
}

// Endpoints is a list of allowed endpoint prefixes: a scheme, a host (or
// *.domain for any host under it), and a path prefix.
type Endpoints []*url.URL

// ParseEndpoints reads a comma-separated list of prefixes; empty gives
// DefaultEndpoints. Each must be https, or http on a loopback host (a
// test's push service).
func ParseEndpoints(s string) (Endpoints, error) {
	list := strings.Split(s, ",")
	if strings.TrimSpace(s) == "" {
		list = DefaultEndpoints
	}
	var out Endpoints
	for _, p := range list {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		u, err := url.Parse(p)
		if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			return nil, fmt.Errorf("pushsubs: endpoint prefix %q is not a URL prefix", p)
		}
		if u.Scheme != "https" && (u.Scheme != "http" || !loopback(u.Hostname())) {
			return nil, fmt.Errorf("pushsubs: endpoint prefix %q: https only (http on a loopback host for tests)", p)
		}
		out = append(out, u)
	}
	return out, nil
}

// loopback is true for localhost and a loopback IP address only: a name
// such as 127.push.example is a public host like any other.
func loopback(host string) bool {
	ip := net.ParseIP(host)
	return host == "localhost" || ip != nil && ip.IsLoopback()
}

// Allows reports whether endpoint is under one of the prefixes: the same
// scheme and host (or a host under a *. domain), no user info, the path
// under the prefix's path.
func (es Endpoints) Allows(endpoint string) bool {
	u, err := url.Parse(endpoint)
	if err != nil || u.User != nil || u.Host == "" || u.Fragment != "" {
		return false
	}
	for _, e := range es {
		if u.Scheme != e.Scheme || !hostMatches(e.Host, u.Host) {
			continue
		}
		if strings.HasPrefix(u.EscapedPath(), e.EscapedPath()) && !strings.Contains(u.EscapedPath(), "/../") {
			return true
		}
	}
	return false
}

func hostMatches(pattern, host string) bool {
	pattern, host = strings.ToLower(pattern), strings.ToLower(host)
	if suffix, ok := strings.CutPrefix(pattern, "*."); ok {
		return strings.HasSuffix(host, "."+suffix) && !strings.Contains(host, ":")
	}
	return pattern == host
}

// ErrInvalid is wrapped by every error of Validate; its text is safe to
// show the client.
var ErrInvalid = errors.New("invalid push subscription")

// Validate checks s's endpoint against allowed and the size and form of
// its keys, and returns s with the keys in their canonical encoding
// (base64url without padding; the browser's, or padded, or standard
// base64 are accepted).
func Validate(s Subscription, allowed Endpoints) (Subscription, error) {
	if len(s.Endpoint) > 2048 || !allowed.Allows(s.Endpoint) {
		return s, fmt.Errorf("%w: endpoint: not a push service this server sends to", ErrInvalid)
	}
	p, err := decodeKey(s.P256dh)
	if err != nil || len(p) != P256dhSize {
		return s, fmt.Errorf("%w: keys.p256dh: must be base64url of a %d-byte P-256 public key", ErrInvalid, P256dhSize)
	}
	if _, err := ecdh.P256().NewPublicKey(p); err != nil {
		return s, fmt.Errorf("%w: keys.p256dh: not a point of P-256", ErrInvalid)
	}
	a, err := decodeKey(s.Auth)
	if err != nil || len(a) != AuthSize {
		return s, fmt.Errorf("%w: keys.auth: must be base64url of %d bytes", ErrInvalid, AuthSize)
	}
	s.P256dh = base64.RawURLEncoding.EncodeToString(p)
	s.Auth = base64.RawURLEncoding.EncodeToString(a)
	return s, nil
}

// decodeKey reads base64url or standard base64, padded or not.
func decodeKey(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	if b, err := base64.RawURLEncoding.DecodeString(s); err == nil {
		return b, nil
	}
	return base64.RawStdEncoding.DecodeString(s)
}
