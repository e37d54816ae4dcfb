package fn

import (
	"log/slog"
	"os"
)

// NewLogger logs JSON to stderr, every line naming the function. level is
// usually a *slog.LevelVar that Start sets from LOG_LEVEL, so that the
// logger made in New needs no replacing. Log ids, types, codes, sizes and
// counts: never content, envelopes, keys, presigned URLs or secrets.
func NewLogger(function string, level slog.Leveler) *slog.Logger {
	return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level})).With("function", function)
}
