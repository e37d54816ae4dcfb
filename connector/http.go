package connector

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/agentchat/agentchat/sdk/events"
	"github.com/agentchat/agentchat/sdk/protocol"
)

// WebSocketPath is where clients connect.
const WebSocketPath = "/ws"

// Handler serves the WebSocket endpoint, /healthz, /readyz, /metrics and,
// if Config.Web is set, everything else from it.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+WebSocketPath, s.serveWS)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !s.Ready() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok\n"))
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{Registry: s.reg}))
	if s.cfg.Web != nil {
		mux.HandleFunc("GET /config.json", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Cache-Control", "no-store")
			json.NewEncoder(w).Encode(map[string]string{"accountsURL": s.cfg.WebAccountsURL})
		})
		mux.Handle("/", webHeaders(s.cfg.Web, s.cfg.WebAccountsURL, s.cfg.WebMediaURL))
	}
	return mux
}

// serveWS authenticates an upgrade request and, only if it passes, upgrades
// it. Refusals are HTTP problems (RFC 9457) and never an upgraded socket,
// checked in this order (docs/protocol.md): draining 503, origin 403, the
// handshake itself 400 (bad_handshake, then unsupported_protocol), token
// 401, revoked device 401, suspended account 403.
func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) {
	if s.draining.Load() {
		w.Header().Set("Retry-After", "1")
		problem(w, http.StatusServiceUnavailable, protocol.CodeUnavailable, "connector is draining; connect to another one")
		return
	}
	if !s.originAllowed(r) {
		s.m.authFailures.WithLabelValues("origin").Inc()
		problem(w, http.StatusForbidden, "forbidden_origin", "origin not allowed")
		return
	}
	// The shape of the request before its token: a plain GET (a browser's
	// address bar, a health probe) is told it is not a WebSocket handshake,
	// not that it lacks a token.
	if why := handshakeProblem(r); why != "" {
		w.Header().Set("Sec-WebSocket-Version", "13")
		problem(w, http.StatusBadRequest, "bad_handshake", why)
		return
	}
	if !speaksProtocol(r) {
		problem(w, http.StatusBadRequest, "unsupported_protocol", "offer the subprotocol "+protocol.Subprotocol)
		return
	}
	id, err := s.deps.Tokens.Verify(r.Context(), bearerToken(r))
	if err != nil {
		s.m.authFailures.WithLabelValues(authReason(err)).Inc()
		s.log.Info("connector: upgrade refused", "reason", authReason(err), "remote", r.RemoteAddr)
		w.Header().Set("WWW-Authenticate", `Bearer realm="agentchat"`)
		problem(w, http.StatusUnauthorized, protocol.CodeUnauthorized, "missing, invalid or expired token")
		return
	}
	// A token stays valid after its device is revoked; accounts marks the
	// device for the token's lifetime. The same round trip stamps the
	// socket: the stamp is fixed before the upgrade is answered.
	dev := events.DeviceRef{User: id.User, Device: id.Device}
	asked := time.Now() // before the marks are read: a cut heard since then refuses it at accept (cuts.go)
	adm := s.admit(r.Context(), dev)
	if adm.Revoked {
		s.m.authFailures.WithLabelValues("revoked").Inc()
		s.log.Info("connector: upgrade refused", "reason", "revoked", "user", id.User, "device", id.Device)
		w.Header().Set("WWW-Authenticate", `Bearer realm="agentchat", error="invalid_token"`)
		problem(w, http.StatusUnauthorized, protocol.CodeUnauthorized, "this device has been revoked")
		return
	}
	if adm.Suspended {
		s.m.authFailures.WithLabelValues("suspended").Inc()
		s.log.Info("connector: upgrade refused", "reason", "suspended", "user", id.User, "device", id.Device)
		problem(w, http.StatusForbidden, protocol.CodeSuspended, "this account is suspended")
		return
	}
	hj := &wireHijacker{ResponseWriter: w}
	ws, err := s.upgrader.Upgrade(hj, r, nil)
	if err != nil {
		return // the upgrader has answered
	}
	if s.upgraded != nil {
		s.upgraded(dev, adm.Stamp)
	}
	s.accept(ws, hj.wire, id, adm.Stamp, asked)
}

// handshakeProblem says what makes r no WebSocket opening handshake
// (RFC 6455 §4.2.1), or "" if it is one. The method is GET by routing.
func handshakeProblem(r *http.Request) string {
	switch {
	case !websocket.IsWebSocketUpgrade(r):
		return "not a WebSocket handshake: Connection: Upgrade and Upgrade: websocket are required"
	case r.Header.Get("Sec-WebSocket-Version") != "13":
		return "Sec-WebSocket-Version 13 is required"
	case r.Header.Get("Sec-WebSocket-Key") == "":
		return "Sec-WebSocket-Key is required"
	}
	return ""
}

func authReason(err error) string {
	switch {
	case errors.Is(err, ErrNoToken):
		return "missing"
	case errors.Is(err, jwt.ErrTokenExpired):
		return "expired"
	case errors.Is(err, ErrUnknownKey), errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return "signature"
	case errors.Is(err, jwt.ErrTokenInvalidAudience), errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return "audience"
	}
	return "invalid"
}

// originAllowed checks a browser's Origin: against AllowedOrigins if set
// ("*" allows any), else it must be the connector's own host. Requests
// without Origin do not come from a browser page and are allowed (the token
// is what protects them).
func (s *Server) originAllowed(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	if len(s.cfg.AllowedOrigins) > 0 {
		for _, o := range s.cfg.AllowedOrigins {
			if o = strings.TrimSpace(o); o == "*" || strings.EqualFold(strings.TrimRight(o, "/"), origin) {
				return true
			}
		}
		return false
	}
	u, err := url.Parse(origin)
	return err == nil && strings.EqualFold(u.Host, r.Host)
}

// problem writes an RFC 9457 problem document.
func problem(w http.ResponseWriter, status int, code, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{
		"type": "about:blank", "title": http.StatusText(status), "status": status, "code": code, "detail": detail,
	})
}

// webHeaders serves the web client with a content security policy: its
// own scripts and styles only (no inline code, nothing from elsewhere),
// connections to this origin (the WebSocket), to accounts and to the media
// store (presigned PUTs and GETs of encrypted blobs), images and sounds
// from the page's own decrypted blobs, no framing. The page holds a
// device's private key; injected script must not run.
func webHeaders(next http.Handler, origins ...string) http.Handler {
	connect := "'self'"
	for _, o := range origins {
		if u, err := url.Parse(o); err == nil && u.Scheme != "" && u.Host != "" {
			connect += " " + u.Scheme + "://" + u.Host
		}
	}
	csp := "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; " +
		"connect-src " + connect + "; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		next.ServeHTTP(w, r)
	})
}
