package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"unicode"

	"golang.org/x/term"
)

// stdin is shared by the conversation picker and the screen, so that no
// buffered input is lost between them.
var stdin = bufio.NewReader(os.Stdin)

// stdout is where the screen writes (a variable for tests).
var stdout io.Writer = os.Stdout

// screen prints lines above the input line. In a terminal it edits the
// input itself (raw mode), so that incoming lines do not tear what is being
// typed and keystrokes can drive the typing indicator; otherwise (a pipe)
// it reads plain lines.
type screen struct {
	mu      sync.Mutex
	out     io.Writer
	raw     bool
	color   bool
	prompt  string
	buf     []rune
	restore func()
}

func newScreen(prompt string) *screen {
	s := &screen{out: stdout, prompt: prompt, restore: func() {}}
	fd := int(os.Stdin.Fd())
	if term.IsTerminal(fd) && term.IsTerminal(int(os.Stdout.Fd())) {
		if old, err := term.MakeRaw(fd); err == nil {
			s.raw, s.color = true, true
			s.restore = func() { _ = term.Restore(fd, old) }
			fmt.Fprint(s.out, s.prompt)
		}
	}
	return s
}

// println shows one line above the input.
func (s *screen) println(line string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.raw {
		fmt.Fprintln(s.out, line)
		return
	}
	fmt.Fprint(s.out, "\r\033[K", line, "\r\n", s.prompt, string(s.buf))
}

// blue colours a tick the way read receipts look.
func (s *screen) blue(t string) string {
	if s.color {
		return "\033[34m" + t + "\033[0m"
	}
	return t + " read"
}

// read feeds each entered line to onLine (until it returns false or input
// ends) and reports keystrokes to onKey (editing: true; line entered or
// cleared: false).
func (s *screen) read(onLine func(string) bool, onKey func(editing bool)) {
	r := stdin
	if !s.raw {
		for {
			line, err := r.ReadString('\n')
			if line != "" && !onLine(strings.TrimRight(line, "\r\n")) {
				return
			}
			if err != nil {
				return
			}
		}
	}
	for {
		c, _, err := r.ReadRune()
		if err != nil {
			return
		}
		switch {
		case c == '\r' || c == '\n':
			s.mu.Lock()
			line := string(s.buf)
			s.buf = nil
			fmt.Fprint(s.out, "\r\033[K", s.prompt)
			s.mu.Unlock()
			onKey(false)
			if !onLine(line) {
				return
			}
		case c == 0x03 || (c == 0x04 && s.empty()): // Ctrl-C, Ctrl-D
			return
		case c == 0x7f || c == 0x08: // backspace
			s.edit(func() {
				if len(s.buf) > 0 {
					s.buf = s.buf[:len(s.buf)-1]
				}
			})
			onKey(!s.empty())
		case c == 0x15: // Ctrl-U
			s.edit(func() { s.buf = nil })
			onKey(false)
		case c == 0x1b: // escape sequence (arrows...): skipped
			if b, err := r.ReadByte(); err == nil && b == '[' {
				for {
					b, err := r.ReadByte()
					if err != nil || (b >= 0x40 && b <= 0x7e) {
						break
					}
				}
			}
		case unicode.IsPrint(c):
			s.edit(func() { s.buf = append(s.buf, c) })
			onKey(true)
		}
	}
}

func (s *screen) edit(fn func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn()
	fmt.Fprint(s.out, "\r\033[K", s.prompt, string(s.buf))
}

func (s *screen) empty() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.buf) == 0
}

func (s *screen) close() {
	if s.raw {
		fmt.Fprint(s.out, "\r\033[K")
	}
	s.restore()
}
