package e2e

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/agentchat/agentchat/internal/testenv"
	"github.com/agentchat/agentchat/sdk/client"
	"github.com/agentchat/agentchat/sdk/e2ee"
)

// A device revoked from another device is cut off at once: its open socket
// closes with 4003 (the client stops reconnecting and says why), and its
// access token — still unexpired — no longer opens a socket. The other
// device carries on, and new messages are no longer sealed for the
// revoked one.
func TestRevokedDeviceIsCutOff(t *testing.T) {
	e := start(t, opts{connectors: 2, functions: spineFunctions})
	ctx := context.Background()
	alice, bob := signup(t, e, "alice"), signup(t, e, "bob")
	laptopKey, _ := e2ee.GenerateKey()
	laptop, err := client.NewAccounts(e.p.AccountsURL(), nil).Login(ctx, client.LoginRequest{
		Username: alice.name, Password: "correct horse battery", PublicKey: laptopKey.PublicKey(), DeviceName: "laptop"})
	if err != nil {
		t.Fatal(err)
	}
	laptopToken, err := laptop.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The laptop on the second connector, so the revocation has to cross.
	cl, err := client.Dial(ctx, client.Config{URLs: e.p.ConnectorURLs()[1:], Token: laptop.Token, EventBuffer: 1024, User: alice.id,
		Device: laptop.DeviceID(), Key: laptopKey, Directory: laptop})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	wl := watch(cl)
	phone := alice.dial(t, e, e.p.ConnectorURLs()[0])
	wp := watch(phone)
	conv, err := alice.sess.CreateConversation(ctx, "direct", []string{alice.id, bob.id}, "")
	if err != nil {
		t.Fatal(err)
	}
	before := send(t, phone, wp, conv.ID, "before the revocation")
	testenv.Eventually(t, 20*time.Second, 20*time.Millisecond, func() bool {
		return len(wl.messages(conv.ID, alice.id)) == 1
	}, "the laptop gets its own account's message")

	if err := alice.sess.RevokeDevice(ctx, laptop.DeviceID()); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, 20*time.Millisecond, func() bool {
		wl.mu.Lock()
		defer wl.mu.Unlock()
		for _, ev := range wl.evs {
			if e, ok := ev.(*client.Error); ok && e.Code == client.CodeRevoked {
				return true
			}
		}
		return false
	}, "the laptop told it was revoked (close 4003)")

	for _, url := range e.p.ConnectorURLs() {
		ws, resp, err := dialRaw(url, laptopToken)
		if err == nil {
			ws.Close()
			t.Errorf("%s: the revoked device's unexpired token opened a socket", url)
		} else if resp == nil || resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: got %v, want 401", url, resp)
		}
	}

	after := send(t, phone, wp, conv.ID, "after the revocation")
	for _, seq := range []int64{before, after} {
		devs := e.envelopeDevices(t, conv.ID, seq)
		sealedForLaptop := false
		for _, d := range devs {
			sealedForLaptop = sealedForLaptop || d == laptop.DeviceID()
		}
		if want := seq == before; sealedForLaptop != want {
			t.Errorf("message %d sealed for the laptop: %v, want %v (devices %v)", seq, sealedForLaptop, want, devs)
		}
	}
}
