package store

import "errors"

// Sentinel errors shared by every contract; anything else a method returns
// is an infrastructure failure (retry later).
var (
	// ErrNotFound: nothing matched.
	ErrNotFound = errors.New("store: not found")
	// ErrDuplicate: an insert hit a unique index (the id or another unique key).
	ErrDuplicate = errors.New("store: duplicate")
)
