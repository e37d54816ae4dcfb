package function

import (
	"net/http"
)

// routes is the accounts API (v1, docs/accounts.md) and the wrappers every
// request passes through.
func (s *service) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /.well-known/jwks.json", s.handle(s.jwks))

	mux.Handle("POST /v1/signup", s.handle(s.signup))
	mux.Handle("POST /v1/login", s.handle(s.login))
	mux.Handle("POST /v1/token/refresh", s.handle(s.refresh))

	mux.Handle("GET /v1/devices", s.authed(s.myDevices))
	mux.Handle("DELETE /v1/devices/{deviceId}", s.authed(s.revokeDevice))
	mux.Handle("PUT /v1/devices/{deviceId}/signing-key", s.authed(s.setSigningKey))
	mux.Handle("PUT /v1/devices/{deviceId}/push-subscription", s.authed(s.setPushSubscription))
	mux.Handle("DELETE /v1/devices/{deviceId}/push-subscription", s.authed(s.deletePushSubscription))
	mux.Handle("GET /v1/push", s.authed(s.pushConfig))

	mux.Handle("GET /v1/me/presence", s.authed(s.getPresence))
	mux.Handle("PUT /v1/me/presence", s.authed(s.setPresence))

	mux.Handle("GET /v1/users", s.authed(s.findUser))
	mux.Handle("GET /v1/users/{userId}", s.authed(s.getUser))
	mux.Handle("GET /v1/users/{userId}/devices", s.authed(s.userDevices))

	mux.Handle("POST /v1/conversations", s.authed(s.createConversation))
	mux.Handle("GET /v1/conversations", s.authed(s.listConversations))
	mux.Handle("GET /v1/conversations/{id}", s.authed(s.getConversation))
	mux.Handle("POST /v1/conversations/{id}/members", s.authed(s.addMember))
	mux.Handle("DELETE /v1/conversations/{id}/members/{userId}", s.authed(s.removeMember))
	mux.Handle("POST /v1/conversations/{id}/admins", s.authed(s.promote))
	mux.Handle("DELETE /v1/conversations/{id}/admins/{userId}", s.authed(s.demote))
	mux.Handle("GET /v1/conversations/{id}/devices", s.authed(s.conversationDevices))
	mux.Handle("GET /v1/conversations/{id}/usage", s.authed(s.conversationUsage))

	mux.Handle("POST /v1/agents", s.authed(s.registerAgent))
	mux.Handle("GET /v1/agents", s.authed(s.listAgents))

	s.adminRoutes(mux) // admin.go

	var h http.Handler = problemsForUnmatched(mux)
	h = cors(s.cfg.AllowedOrigins, h)
	h = secureHeaders(h)
	h = recoverPanics(s.log, h)
	return accessLog(s.log, h)
}

// problemsForUnmatched answers what no route matches with a problem (404,
// or 405 with Allow) instead of the mux's plain text.
func problemsForUnmatched(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		probe := &headerProbe{header: http.Header{}}
		h, _ := mux.Handler(r)
		h.ServeHTTP(probe, r)
		if probe.status == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", probe.header.Get("Allow"))
			writeProblem(w, problem(http.StatusMethodNotAllowed, "method %s not allowed here", r.Method))
			return
		}
		writeProblem(w, problem(http.StatusNotFound, "no such route"))
	})
}

// headerProbe captures the status and headers the mux would have written.
type headerProbe struct {
	header http.Header
	status int
}

func (p *headerProbe) Header() http.Header         { return p.header }
func (p *headerProbe) Write(b []byte) (int, error) { return len(b), nil }
func (p *headerProbe) WriteHeader(code int)        { p.status = code }
