package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"

	"github.com/agentchat/agentchat/sdk/client"
	"github.com/agentchat/agentchat/sdk/e2ee"
	"golang.org/x/term"
)

// signIn makes this terminal a signed-in device: it resumes the saved
// device with its refresh token if it can, else logs in with the password
// (as the saved device, or registering a new one with a fresh key).
func signIn(ctx context.Context, acc *client.Accounts, st *deviceState, o *options) (*client.Session, *e2ee.PrivateKey, error) {
	key, err := st.key()
	if err != nil {
		return nil, nil, err
	}
	if st.RefreshToken != "" && st.DeviceID != "" && !o.signup {
		sess := acc.Resume(client.Tokens{UserID: st.UserID, DeviceID: st.DeviceID, RefreshToken: st.RefreshToken})
		if _, err := sess.Token(ctx); err == nil {
			return sess, key, nil
		}
	}
	password, err := o.passwordOrPrompt()
	if err != nil {
		return nil, nil, err
	}
	if o.signup {
		if _, err := acc.Signup(ctx, o.user, password, o.display); err != nil {
			if !client.IsStatus(err, http.StatusConflict) {
				return nil, nil, err
			}
			fmt.Fprintf(os.Stderr, "chat: user %q exists; logging in\n", o.user)
		}
	}
	req := client.LoginRequest{Username: o.user, Password: password, DeviceName: deviceName()}
	if st.DeviceID != "" {
		req.DeviceID = st.DeviceID
	} else {
		req.PublicKey = key.PublicKey()
	}
	sess, err := acc.Login(ctx, req)
	var p *client.ProblemError
	if err != nil && req.DeviceID != "" && errors.As(err, &p) && p.Status != http.StatusTooManyRequests && p.Status < 500 {
		// The saved device is gone (revoked): become a new one.
		if key, err = e2ee.GenerateKey(); err != nil {
			return nil, nil, err
		}
		st.PrivateKey, st.SigningSeed = key.Bytes(), nil // a new device: new keys
		req.DeviceID, req.PublicKey = "", key.PublicKey()
		sess, err = acc.Login(ctx, req)
	}
	if err != nil {
		return nil, nil, err
	}
	st.remember(sess)
	return sess, key, st.save()
}

// registerSigning makes sure accounts has this device's signing key
// (docs/e2ee.md, "Signed messages"), so that what it sends verifies; a
// failure is reported and retried at the next start (messages then show
// as unverified to others).
func registerSigning(ctx context.Context, sess *client.Session, st *deviceState, key *e2ee.PrivateKey) (*e2ee.SigningKey, error) {
	sk, err := st.signing()
	if err != nil {
		return nil, err
	}
	if st.SigningFor != sess.DeviceID() {
		if err := sess.SetSigningKey(ctx, sess.DeviceID(), sess.UserID(), key.PublicKeyBytes(), sk); err != nil {
			fmt.Fprintf(os.Stderr, "chat: signing key not registered (your messages show as unverified): %v\n", err)
		} else {
			st.SigningFor = sess.DeviceID()
		}
	}
	return sk, st.save()
}

func (st *deviceState) remember(sess *client.Session) {
	t := sess.Tokens()
	st.UserID, st.DeviceID, st.RefreshToken = t.UserID, t.DeviceID, t.RefreshToken
}

func (o *options) passwordOrPrompt() (string, error) {
	if o.password != "" {
		return o.password, nil
	}
	if !term.IsTerminal(int(os.Stdin.Fd())) {
		return "", errors.New("chat: no password: use -password or AGENTCHAT_PASSWORD")
	}
	fmt.Fprintf(os.Stderr, "password for %s: ", o.user)
	b, err := term.ReadPassword(int(os.Stdin.Fd()))
	fmt.Fprintln(os.Stderr)
	return string(b), err
}

func deviceName() string {
	h, _ := os.Hostname()
	if h == "" {
		return "chat-cli"
	}
	return "chat-cli@" + h
}
