package messages

import "testing"

func TestMemory(t *testing.T) {
	runSuite(t, func(*testing.T) backend { return NewMemory() })
}
