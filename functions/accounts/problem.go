package function

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Problem is an RFC 9457 problem: every error accounts answers with. Detail
// is safe to show; infrastructure causes never reach it (see writeError).
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	// Code, an extension member, tells apart refusals a client may act on
	// within one type (e.g. "low_order_key"); most problems have none.
	Code string `json:"code,omitempty"`

	retryAfter time.Duration // sets Retry-After (429, 503)
	authError  string        // sets WWW-Authenticate's error (401)
}

func (p *Problem) Error() string { return fmt.Sprintf("%d %s", p.Status, p.Detail) }

// problemTypes names each status's problem type, a stable URN clients may
// switch on.
var problemTypes = map[int]string{
	http.StatusBadRequest:            "validation",
	http.StatusUnauthorized:          "unauthorized",
	http.StatusForbidden:             "forbidden",
	http.StatusNotFound:              "not-found",
	http.StatusMethodNotAllowed:      "method-not-allowed",
	http.StatusConflict:              "conflict",
	http.StatusRequestEntityTooLarge: "too-large",
	http.StatusUnsupportedMediaType:  "unsupported-media-type",
	http.StatusTooManyRequests:       "rate-limited",
	http.StatusInternalServerError:   "internal",
	http.StatusServiceUnavailable:    "unavailable",
}

func problem(status int, format string, args ...any) *Problem {
	return &Problem{Status: status, Detail: fmt.Sprintf(format, args...)}
}

// invalid is a 400 naming the offending field.
func invalid(field, format string, args ...any) *Problem {
	return problem(http.StatusBadRequest, field+": "+format, args...)
}

func notFound(what string) *Problem { return problem(http.StatusNotFound, "%s not found", what) }

func unauthorized(authError, detail string) *Problem {
	return &Problem{Status: http.StatusUnauthorized, Detail: detail, authError: authError}
}

func writeProblem(w http.ResponseWriter, p *Problem) {
	if p.Type == "" {
		p.Type = "urn:agentchat:problem:" + problemTypes[p.Status]
	}
	if p.Title == "" {
		p.Title = http.StatusText(p.Status)
	}
	h := w.Header()
	if p.retryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(int(math.Ceil(p.retryAfter.Seconds()))))
	}
	if p.Status == http.StatusUnauthorized {
		v := `Bearer realm="agentchat"`
		if p.authError != "" {
			v += `, error="` + p.authError + `"`
		}
		h.Set("WWW-Authenticate", v)
	}
	h.Set("Content-Type", "application/problem+json")
	h.Del("Content-Length")
	w.WriteHeader(p.Status)
	json.NewEncoder(w).Encode(p)
}

// writeError answers with err's problem, or a generic 500 whose cause is
// logged (never the request body: it may hold a password or a token).
func (s *service) writeError(w http.ResponseWriter, r *http.Request, err error) {
	p, ok := err.(*Problem)
	if !ok {
		s.log.Error("accounts: request failed", "method", r.Method, "route", routeOf(r), "err", err)
		p = problem(http.StatusInternalServerError, "internal error; try again later")
	}
	writeProblem(w, p)
}

// writeJSON answers with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// routeOf is the matched pattern (no ids), or the path's first segment.
func routeOf(r *http.Request) string {
	if r.Pattern != "" {
		return r.Pattern
	}
	first, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	return r.Method + " /" + first + "/..."
}
