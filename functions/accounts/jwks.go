package function

import "net/http"

// jwks publishes every configured signing key's public half. Verifiers
// (the connector) cache it for a few minutes; during a key rotation the
// new key is published before it signs (docs/accounts.md).
func (s *service) jwks(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.Header().Set("Access-Control-Allow-Origin", "*")
	writeJSON(w, http.StatusOK, s.signer.JWKS())
	return nil
}
