package backing

import (
	"fmt"

	"github.com/alicebob/miniredis/v2"
)

// startRedis runs miniredis on a free loopback port. It speaks RESP, so the
// platform's go-redis clients use it unchanged, pub/sub included.
func startRedis() (url string, stop func() error, err error) {
	m, err := miniredis.Run()
	if err != nil {
		return "", nil, fmt.Errorf("backing: start miniredis: %w", err)
	}
	return "redis://" + m.Addr() + "/0", func() error { m.Close(); return nil }, nil
}
