package main

import (
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"fmt"
)

// printVAPIDKeys prints a Web Push application server key pair (RFC 8292)
// in the form the configuration takes: the private key for the
// agentchat-push Secret (push's VAPID_PRIVATE_KEY), the public key for
// agentchat-config's push-vapid-public-key (accounts' VAPID_PUBLIC_KEY).
func printVAPIDKeys() error {
	k, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	fmt.Printf("vapid-private-key: %s\npush-vapid-public-key: %s\n",
		base64.RawURLEncoding.EncodeToString(k.Bytes()), base64.RawURLEncoding.EncodeToString(k.PublicKey().Bytes()))
	return nil
}
