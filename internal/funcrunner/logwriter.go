package funcrunner

import (
	"bytes"
	"io"
	"strings"
	"sync"
)

// output is where a process's stdout and stderr go: whole lines, each
// with the function's name in front, never interleaved mid-line. It keeps
// the last few lines so that a failed start can say why.
type output struct {
	mu     sync.Mutex // guards w and tail
	w      io.Writer
	prefix string
	tail   []string // the last tailLines lines, oldest first
}

const tailLines = 30

// stream returns a writer for one of the process's streams; each keeps
// its own partial line.
func (o *output) stream() *lineWriter { return &lineWriter{out: o} }

func (o *output) line(b []byte) {
	o.mu.Lock()
	defer o.mu.Unlock()
	buf := make([]byte, 0, len(o.prefix)+len(b)+1)
	buf = append(append(append(buf, o.prefix...), b...), '\n')
	o.w.Write(buf)
	if len(o.tail) == tailLines {
		o.tail = o.tail[1:]
	}
	o.tail = append(o.tail, string(b))
}

// Tail returns the last lines the process wrote.
func (o *output) Tail() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return strings.Join(o.tail, "\n")
}

// lineWriter splits what one stream writes into lines.
type lineWriter struct {
	out     *output
	partial []byte
}

func (l *lineWriter) Write(p []byte) (int, error) {
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		l.out.line(l.partial[:i])
		l.partial = l.partial[i+1:]
	}
	if len(l.partial) > 64<<10 { // a runaway line: emit it in pieces
		l.out.line(l.partial)
		l.partial = nil
	}
	return len(p), nil
}

// flush writes a last line that had no newline.
func (l *lineWriter) flush() {
	if len(l.partial) > 0 {
		l.out.line(l.partial)
		l.partial = nil
	}
}
