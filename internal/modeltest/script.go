package modeltest

import (
	"strings"
	"sync"
)

// Echo answers "echo: " and the last user message, one word per chunk.
func Echo(r Request) Reply {
	return Reply{Chunks: Words("echo: " + r.Last("user"))}
}

// Answer streams text one word per chunk.
func Answer(text string) func(Request) Reply {
	return func(Request) Reply { return Reply{Chunks: Words(text)} }
}

// Sequence answers the n-th request with replies[n-1], and every request
// after the last with the last one.
func Sequence(replies ...Reply) func(Request) Reply {
	var mu sync.Mutex
	i := 0
	return func(Request) Reply {
		mu.Lock()
		defer mu.Unlock()
		r := replies[min(i, len(replies)-1)]
		i++
		return r
	}
}

// Words splits s into chunks of one word each, every chunk but the first
// keeping the space before it, so that joining them gives s back.
func Words(s string) []string {
	var chunks []string
	start := 0
	for i := 1; i < len(s); i++ {
		if s[i] == ' ' && s[i-1] != ' ' {
			chunks = append(chunks, s[start:i])
			start = i
		}
	}
	if start < len(s) {
		chunks = append(chunks, s[start:])
	}
	return chunks
}

// Join is the text the chunks of a reply make.
func Join(chunks []string) string { return strings.Join(chunks, "") }
