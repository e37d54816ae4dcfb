package seen

import "errors"

// errBadSocket: a socket without a valid user, device or stamp; a caller's
// bug, never stored.
var errBadSocket = errors.New("seen: a socket needs a valid user, device and a stamp")
