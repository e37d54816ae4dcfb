package function

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/agentchat/agentchat/sdk/tool"
)

// args are the tool's parameters (the schema an agent declares for it in
// AGENT_CONFIG, docs/agents.md):
//
//	{"type": "object", "required": ["url"], "properties": {
//	   "url":    {"type": "string", "description": "the URL to call (only allowed APIs answer)"},
//	   "method": {"type": "string", "enum": ["GET", "POST"]},
//	   "body":   {"type": "string", "description": "a JSON body, for POST"}}}
type args struct {
	URL    string `json:"url"`
	Method string `json:"method"`
	Body   string `json:"body"`
}

// HeaderCallID carries the tool call id on every request the tool makes.
const HeaderCallID = "X-Agentchat-Tool-Call"

// caller makes the tool's requests, to allowed URLs only.
type caller struct {
	allow    []*url.URL
	http     *http.Client
	maxBytes int
}

func newCaller(allow string, timeout time.Duration, maxBytes int) (*caller, error) {
	c := &caller{maxBytes: maxBytes}
	for _, s := range strings.Split(allow, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" {
			return nil, fmt.Errorf("%q is not an http(s) URL prefix", s)
		}
		c.allow = append(c.allow, u)
	}
	c.http = &http.Client{Timeout: timeout, CheckRedirect: func(r *http.Request, via []*http.Request) error {
		if len(via) >= 5 {
			return errors.New("too many redirects")
		}
		if !c.allowed(r.URL) {
			return fmt.Errorf("redirected to %s, which is not allowed", r.URL.Redacted())
		}
		return nil
	}}
	return c, nil
}

// allowed: u is under one of the prefixes — the same scheme and host (a
// prefix of the string alone would let api.example.com.evil.net in), and
// the path under the prefix's, after cleaning (no .. out of it). A path
// with an encoded dot, slash or backslash is refused: Clean does not see
// "%2e%2e" or "%2f" as a segment, but a server that decodes before it
// normalises would (".../weather/%2e%2e/admin" is ".../admin" there).
func (c *caller) allowed(u *url.URL) bool {
	if u.User != nil {
		return false
	}
	escaped := strings.ToLower(u.EscapedPath())
	if strings.Contains(escaped, "%2e") || strings.Contains(escaped, "%2f") || strings.Contains(escaped, "%5c") || strings.Contains(escaped, "\\") {
		return false
	}
	p := path.Clean("/" + u.EscapedPath())
	for _, a := range c.allow {
		if !strings.EqualFold(a.Scheme, u.Scheme) || !strings.EqualFold(a.Host, u.Host) {
			continue
		}
		prefix := a.EscapedPath()
		if prefix == "" || prefix == "/" || p == strings.TrimSuffix(prefix, "/") ||
			strings.HasPrefix(p, strings.TrimSuffix(prefix, "/")+"/") {
			return true
		}
	}
	return false
}

// call makes the request the model asked for and answers "HTTP <status>"
// and the body (its first HTTP_TOOL_MAX_BYTES, as text).
func (c *caller) call(ctx context.Context, tc tool.Call) (string, error) {
	var a args
	dec := json.NewDecoder(strings.NewReader(tc.Arguments))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&a); err != nil {
		return "", fmt.Errorf("arguments: %v", err)
	}
	u, err := url.Parse(a.URL)
	if err != nil || u.Host == "" {
		return "", errors.New("url: not an absolute URL")
	}
	if !c.allowed(u) {
		return "", fmt.Errorf("url: %s is not on this tool's allow-list", u.Redacted())
	}
	method := strings.ToUpper(strings.TrimSpace(a.Method))
	var body io.Reader
	switch method {
	case "", http.MethodGet:
		method = http.MethodGet
	case http.MethodPost:
		body = strings.NewReader(a.Body)
	default:
		return "", errors.New("method: GET or POST")
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return "", errors.New("url: not a valid request")
	}
	req.Header.Set(HeaderCallID, tc.CallID)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) && ue.Timeout() {
			return "", errors.New("the API did not answer in time")
		}
		return "", errors.New("the API could not be reached")
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, int64(c.maxBytes)+1))
	if err != nil {
		return "", errors.New("the API's answer broke off")
	}
	truncated := len(b) > c.maxBytes
	b = bytes.ToValidUTF8(b[:min(len(b), c.maxBytes)], []byte("\uFFFD"))
	out := fmt.Sprintf("HTTP %d\n%s", resp.StatusCode, b)
	if truncated {
		out += "\n[truncated]"
	}
	if !utf8.ValidString(out) {
		return "", errors.New("the API answered with something that is not text")
	}
	return out, nil
}
