package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ProblemError is a non-2xx answer of the accounts API: an RFC 9457 problem
// (or, from something in front of accounts that does not speak problems, the
// status and the start of the body as Detail). Callers branch on Status:
// errors.As(err, &p) && p.Status == http.StatusConflict.
type ProblemError struct {
	Status int
	Type   string
	Title  string
	Detail string
	// Code is the problem's code member, where accounts tells refusals of
	// one status apart (e.g. "suspended", a 429's limit); often empty.
	Code string
	// RetryAfter is the server's Retry-After on 429 and 503, else zero.
	RetryAfter time.Duration
}

func (p *ProblemError) Error() string {
	msg := p.Title
	if msg == "" {
		msg = http.StatusText(p.Status)
	}
	if p.Detail != "" {
		msg += ": " + p.Detail
	}
	return fmt.Sprintf("accounts: %d %s", p.Status, msg)
}

// IsStatus reports whether err is a ProblemError with the given status.
func IsStatus(err error, status int) bool {
	var p *ProblemError
	return errors.As(err, &p) && p.Status == status
}

// maxProblemBody bounds how much of an error body is read.
const maxProblemBody = 16 << 10

// readProblem turns a non-2xx response into a *ProblemError.
func readProblem(resp *http.Response) *ProblemError {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxProblemBody))
	p := &ProblemError{Status: resp.StatusCode}
	if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && secs >= 0 {
		p.RetryAfter = time.Duration(secs) * time.Second
	}
	var doc struct {
		Type   string `json:"type"`
		Title  string `json:"title"`
		Detail string `json:"detail"`
		Code   string `json:"code"`
	}
	if json.Unmarshal(body, &doc) == nil && (doc.Title != "" || doc.Detail != "") {
		p.Type, p.Title, p.Detail, p.Code = doc.Type, doc.Title, doc.Detail, doc.Code
		return p
	}
	p.Detail = strings.TrimSpace(string(body))
	if len(p.Detail) > 200 {
		p.Detail = p.Detail[:200] + "…"
	}
	return p
}
