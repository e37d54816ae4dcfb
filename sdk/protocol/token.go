package protocol

import "time"

// TokenLeeway is how long past its exp claim an access token is still
// accepted — by accounts (its API) and by the connector (at the upgrade,
// and until it closes the socket with CloseTokenExpired) alike, so that a
// token accepted by one is accepted by the other. It absorbs clock skew
// between the replicas that issue and check tokens (accounts also refuses
// an iat further than this in the future); it is no grace period for
// clients, which refresh before exp (docs/accounts.md, "Tokens").
const TokenLeeway = 5 * time.Second
