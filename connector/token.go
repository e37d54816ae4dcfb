package connector

import (
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"

	"github.com/agentchat/agentchat/sdk/protocol"
)

// bearerToken returns the token of an upgrade request: from the
// Authorization header, or — for browsers, which cannot set headers on a
// WebSocket — from a subprotocol "bearer.<jwt>" offered next to
// "agentchat.v1". The token subprotocol is never echoed back.
func bearerToken(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		if scheme, tok, ok := strings.Cut(h, " "); ok && strings.EqualFold(scheme, "Bearer") {
			return strings.TrimSpace(tok)
		}
		return ""
	}
	for _, p := range websocket.Subprotocols(r) {
		if tok, ok := strings.CutPrefix(p, protocol.TokenSubprotocolPrefix); ok {
			return tok
		}
	}
	return ""
}

// speaksProtocol reports whether the client can speak this connector's
// protocol version: it offered protocol.Subprotocol, or offered no
// subprotocol at all (a plain client, which gets version 1). A client that
// offers only other versions is refused rather than misunderstood.
func speaksProtocol(r *http.Request) bool {
	offered := websocket.Subprotocols(r)
	for _, p := range offered {
		if p == protocol.Subprotocol {
			return true
		}
	}
	for _, p := range offered {
		if !strings.HasPrefix(p, protocol.TokenSubprotocolPrefix) {
			return false
		}
	}
	return true
}

// tokenParserOptions are the checks every access token gets here: EdDSA
// only, exp required and honoured with protocol.TokenLeeway (the leeway
// accounts grants too), the audience and the issuer.
func tokenParserOptions(audience, issuer string) []jwt.ParserOption {
	return []jwt.ParserOption{
		jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}),
		jwt.WithExpirationRequired(), jwt.WithLeeway(protocol.TokenLeeway),
		jwt.WithAudience(audience), jwt.WithIssuer(issuer),
	}
}

// acceptedUntil is when a token expiring at exp stops being accepted: the
// moment its socket is closed with protocol.CloseTokenExpired.
func acceptedUntil(exp time.Time) time.Time { return exp.Add(protocol.TokenLeeway) }
