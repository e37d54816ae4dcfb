package pushsubs

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agentchat/agentchat/store"
	"github.com/agentchat/agentchat/store/storetest"
)

func TestMemory(t *testing.T) { suite(t, NewMemory()) }

func TestMongo(t *testing.T) {
	uri := storetest.Need(t, storetest.EnvMongoURI)
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	db, err := store.OpenMongo(uri, "pushsubs_"+hex.EncodeToString(b), "pushsubs-test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = db.DB.Drop(ctx)
		_ = db.Close(ctx)
	})
	suite(t, NewMongo(db.DB))
}

// suite: one subscription per device, replaced by Put, removed by Delete,
// and by DeleteEndpoint only while it names that endpoint.
func suite(t *testing.T, s Store) {
	ctx := context.Background()
	at := time.Date(2026, 12, 6, 4, 0, 0, 0, time.UTC)
	a1 := Subscription{User: "alice", Device: "dv-a1", Endpoint: "https://push.example/a1", P256dh: "p1", Auth: "s1", UpdatedAt: at}
	a2 := Subscription{User: "alice", Device: "dv-a2", Endpoint: "https://push.example/a2", P256dh: "p2", Auth: "s2", UpdatedAt: at}
	for _, x := range []Subscription{a1, a2} {
		if err := s.Put(ctx, x); err != nil {
			t.Fatal(err)
		}
	}
	get := func(devices ...string) []Subscription {
		t.Helper()
		got, err := s.Get(ctx, devices)
		if err != nil {
			t.Fatal(err)
		}
		slices.SortFunc(got, func(a, b Subscription) int { return strings.Compare(a.Device, b.Device) })
		return got
	}
	if got := get("dv-a1", "dv-a2", "dv-none"); !slices.Equal(got, []Subscription{a1, a2}) {
		t.Errorf("get = %+v, want %+v", got, []Subscription{a1, a2})
	}
	if got := get(); len(got) != 0 {
		t.Errorf("get of no devices = %+v", got)
	}
	many := []string{"dv-a2"} // a group's audience: more devices than Mongo reads one by one
	for i := range 20 {
		many = append(many, fmt.Sprintf("dv-x%d", i))
	}
	if got := get(append(many, "dv-a1")...); !slices.Equal(got, []Subscription{a1, a2}) {
		t.Errorf("get of %d devices = %+v, want %+v", len(many)+1, got, []Subscription{a1, a2})
	}
	a1b := a1
	a1b.Endpoint, a1b.UpdatedAt = "https://push.example/a1-new", at.Add(time.Minute)
	if err := s.Put(ctx, a1b); err != nil {
		t.Fatal(err)
	}
	if got := get("dv-a1"); !slices.Equal(got, []Subscription{a1b}) {
		t.Errorf("after a second put: %+v, want %+v", got, a1b)
	}
	// The push service reports the old endpoint gone: the new one stays.
	if err := s.DeleteEndpoint(ctx, "dv-a1", a1.Endpoint); err != nil {
		t.Fatal(err)
	}
	if got := get("dv-a1"); len(got) != 1 {
		t.Errorf("DeleteEndpoint of a replaced endpoint removed the new subscription")
	}
	if err := s.DeleteEndpoint(ctx, "dv-a1", a1b.Endpoint); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "dv-a2"); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "dv-a2"); err != nil {
		t.Errorf("deleting twice: %v", err)
	}
	if got := get("dv-a1", "dv-a2"); len(got) != 0 {
		t.Errorf("after deletes: %+v", got)
	}
}

func TestValidate(t *testing.T) {
	allowed, err := ParseEndpoints("")
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ecdh.P256().GenerateKey(rand.Reader)
	p256dh := base64.RawURLEncoding.EncodeToString(key.PublicKey().Bytes())
	auth := base64.RawURLEncoding.EncodeToString(make([]byte, 16))
	good := Subscription{Endpoint: "https://fcm.googleapis.com/fcm/send/abc:def", P256dh: p256dh, Auth: auth}
	if got, err := Validate(good, allowed); err != nil || got != good {
		t.Fatalf("valid subscription: %+v, %v", got, err)
	}
	padded := good
	padded.P256dh = base64.URLEncoding.EncodeToString(key.PublicKey().Bytes())
	padded.Auth = base64.StdEncoding.EncodeToString(make([]byte, 16))
	if got, err := Validate(padded, allowed); err != nil || got.P256dh != p256dh || got.Auth != auth {
		t.Errorf("padded keys: %+v, %v; want them canonical", got, err)
	}
	offCurve := make([]byte, 65)
	offCurve[0] = 4
	for name, mut := range map[string]func(*Subscription){
		"http endpoint":       func(s *Subscription) { s.Endpoint = "http://fcm.googleapis.com/fcm/send/x" },
		"unknown host":        func(s *Subscription) { s.Endpoint = "https://metadata.internal/x" },
		"look-alike host":     func(s *Subscription) { s.Endpoint = "https://fcm.googleapis.com.evil.net/x" },
		"user info":           func(s *Subscription) { s.Endpoint = "https://x@fcm.googleapis.com/x" },
		"windows bare domain": func(s *Subscription) { s.Endpoint = "https://notify.windows.com/x" },
		"short p256dh":        func(s *Subscription) { s.P256dh = p256dh[:40] },
		"p256dh off curve":    func(s *Subscription) { s.P256dh = base64.RawURLEncoding.EncodeToString(offCurve) },
		"long auth":           func(s *Subscription) { s.Auth = base64.RawURLEncoding.EncodeToString(make([]byte, 32)) },
		"auth not base64":     func(s *Subscription) { s.Auth = "!!!!!!!!" },
	} {
		s := good
		mut(&s)
		if _, err := Validate(s, allowed); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
	win := good
	win.Endpoint = "https://wns2-by3p.notify.windows.com/w/?token=x"
	if _, err := Validate(win, allowed); err != nil {
		t.Errorf("a WNS endpoint: %v", err)
	}
	local, err := ParseEndpoints("http://127.0.0.1:5000/push/")
	if err != nil {
		t.Fatal(err)
	}
	if !local.Allows("http://127.0.0.1:5000/push/d1") || local.Allows("http://127.0.0.1:5001/push/d1") || local.Allows("http://127.0.0.1:5000/admin") {
		t.Error("a test allow-list lets the wrong endpoints in")
	}
	for _, p := range []string{"http://push.example/", "http://127.push.example/", "http://127.0.0.1.nip.io/"} {
		if _, err := ParseEndpoints(p); err == nil {
			t.Errorf("an http prefix off loopback was accepted: %s", p)
		}
	}
	for _, p := range []string{"http://localhost:5000/", "http://[::1]:5000/", "http://127.0.0.2/"} {
		if _, err := ParseEndpoints(p); err != nil {
			t.Errorf("a loopback http prefix: %v", err)
		}
	}
}
