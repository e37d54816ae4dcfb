package function

import (
	"net"
	"net/http"
	"strings"
)

// clientIP is the address the per-address limits count (logins, sign-ups,
// new devices). With hops = 0 it is the peer; behind proxies that each
// append the address they saw to X-Forwarded-For it is the entry hops
// places from the right of (X-Forwarded-For entries..., peer), which no
// client can forge. Set TRUSTED_PROXY_HOPS to the number of such proxies
// (docs/accounts.md).
func clientIP(r *http.Request, hops int) string {
	peer, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		peer = r.RemoteAddr
	}
	if hops == 0 {
		return peer
	}
	var chain []string
	for _, v := range r.Header.Values("X-Forwarded-For") {
		for _, part := range strings.Split(v, ",") {
			if part = strings.TrimSpace(part); part != "" {
				chain = append(chain, part)
			}
		}
	}
	chain = append(chain, peer)
	i := len(chain) - 1 - hops
	if i < 0 {
		i = 0
	}
	return chain[i]
}
