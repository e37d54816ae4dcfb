package connector

import (
	"bufio"
	"encoding/binary"
	"net"
	"net/http"
	"sync"
)

// wireBufferSize is the size of the buffers sockets borrow while a frame is
// read: a frame header and a control frame fit in it; larger payloads are
// read straight into the message buffer.
const wireBufferSize = 4096

var wirePool = sync.Pool{New: func() any { b := make([]byte, wireBufferSize); return &b }}

// wireConn is the net.Conn gorilla/websocket reads and writes through. It
// exists so that an idle socket can be read only when the poller says it is
// readable, without a goroutine parked on it and without a buffer:
//
//   - it reads the socket into a buffer borrowed from wirePool only while a
//     frame is being read (release gives it back);
//   - it hands gorilla at most the rest of the current frame, so gorilla's
//     own small buffer never holds bytes of the next frame — bytes readiness
//     would not announce again; whatever was read beyond stays here, where
//     the reader sees it (buffered);
//   - it answers the client's ping frames and takes its pong frames itself,
//     so a pong (the answer to every keep-alive ping) never leaves gorilla
//     waiting for a data frame that may not come.
//
// Reads happen on one goroutine at a time (conn.readMu); writes, Close and
// deadlines go straight to the socket.
type wireConn struct {
	net.Conn
	buf  *[]byte // borrowed from wirePool; nil when idle
	r, w int     // unread bytes are (*buf)[r:w]
	left int64   // bytes of the current frame gorilla may still read

	onPing func(payload []byte) // a ping frame from the client (payload unmasked)
	onPong func()               // a pong frame from the client
}

func newWireConn(nc net.Conn) *wireConn { return &wireConn{Conn: nc} }

// buffered is how many bytes were read from the socket but not yet taken.
func (w *wireConn) buffered() int { return w.w - w.r }

// release gives the read buffer back to the pool if it holds nothing.
func (w *wireConn) release() {
	if w.buf != nil && w.r == w.w {
		wirePool.Put(w.buf)
		w.buf, w.r, w.w = nil, 0, 0
	}
}

// preload takes bytes the HTTP server read beyond the upgrade request.
func (w *wireConn) preload(p []byte) {
	w.borrow()
	w.w = copy(*w.buf, p)
}

func (w *wireConn) borrow() {
	if w.buf == nil {
		w.buf = wirePool.Get().(*[]byte)
		w.r, w.w = 0, 0
	}
}

// fill reads until at least n (≤ wireBufferSize) bytes are buffered. It
// blocks like a socket read.
func (w *wireConn) fill(n int) error {
	w.borrow()
	b := *w.buf
	for w.w-w.r < n {
		if len(b)-w.r < n {
			w.w = copy(b, b[w.r:w.w])
			w.r = 0
		}
		m, err := w.Conn.Read(b[w.w:])
		w.w += m
		if err != nil && w.w-w.r < n {
			return err
		}
	}
	return nil
}

// nextData moves to the next frame that is not a ping or a pong, answering
// those on the way, and reports whether there is one: with wait false it
// returns false as soon as nothing is buffered (the socket is idle again);
// with wait true it reads until a frame comes. It blocks once a frame has
// begun, until the frame's header (or the whole control frame) is in.
func (w *wireConn) nextData(wait bool) (bool, error) {
	for {
		if w.left > 0 {
			return true, nil
		}
		if w.buffered() == 0 && !wait {
			return false, nil
		}
		if err := w.fill(2); err != nil {
			return false, err
		}
		b := *w.buf
		b0, b1 := b[w.r], b[w.r+1]
		hdr, plen := 2, int64(b1&0x7f)
		switch plen {
		case 126:
			hdr += 2
		case 127:
			hdr += 8
		}
		masked := b1&0x80 != 0
		if masked {
			hdr += 4
		}
		if err := w.fill(hdr); err != nil {
			return false, err
		}
		b = *w.buf
		switch plen {
		case 126:
			plen = int64(binary.BigEndian.Uint16(b[w.r+2:]))
		case 127:
			plen = int64(binary.BigEndian.Uint64(b[w.r+2:]) & (1<<62 - 1)) // gorilla refuses what is larger
		}
		op := b0 & 0x0f
		// A well-formed ping or pong (final, no extension bits, masked as
		// a client's frames must be, at most 125 bytes) is answered here;
		// anything else, well-formed or not, is gorilla's to judge.
		if (op == 0x9 || op == 0xA) && b0&0xf0 == 0x80 && masked && plen <= 125 {
			if err := w.fill(hdr + int(plen)); err != nil {
				return false, err
			}
			b = *w.buf
			key := b[w.r+hdr-4 : w.r+hdr]
			payload := b[w.r+hdr : w.r+hdr+int(plen)]
			for i := range payload {
				payload[i] ^= key[i%4]
			}
			w.r += hdr + int(plen)
			if op == 0x9 {
				if w.onPing != nil {
					w.onPing(append([]byte(nil), payload...))
				}
			} else if w.onPong != nil {
				w.onPong()
			}
			continue
		}
		w.left = int64(hdr) + plen
		return true, nil
	}
}

// Read gives gorilla the bytes of the current frame only; at a frame's end
// it moves to the next data frame (a fragmented message goes on).
func (w *wireConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if w.left == 0 {
		if _, err := w.nextData(true); err != nil {
			return 0, err
		}
	}
	lim := int(min(int64(len(p)), w.left))
	if w.buffered() > 0 {
		n := copy(p[:lim], (*w.buf)[w.r:w.w])
		w.r += n
		w.left -= int64(n)
		return n, nil
	}
	n, err := w.Conn.Read(p[:lim])
	w.left -= int64(n)
	return n, err
}

// wireHijacker makes gorilla's Upgrade hijack a wireConn instead of the
// bare connection.
type wireHijacker struct {
	http.ResponseWriter
	wire *wireConn
}

func (h *wireHijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	h.wire = newWireConn(nc)
	if n := brw.Reader.Buffered(); n > 0 {
		// The client sent frames right behind its request: they are the
		// wireConn's now (at most the HTTP server's 4 KiB buffer).
		p, _ := brw.Reader.Peek(min(n, wireBufferSize))
		h.wire.preload(p)
		brw.Reader.Discard(len(p))
	}
	return h.wire, brw, nil
}
