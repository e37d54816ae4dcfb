//go:build linux

package connector

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// poller watches idle sockets for readability with one epoll instance and
// one goroutine, so an idle socket has no goroutine of its own. Each socket
// is registered one-shot: after a readiness it is reported once, and its
// reader re-arms it when the socket is idle again (arm), so a socket is read
// by at most one goroutine at a time. Level-triggered: a socket that became
// readable before it was re-armed is reported at once.
type poller struct {
	epfd, wake int // wake: an eventfd that ends run
	ready      func(*conn)

	mu    sync.Mutex
	conns map[uint64]*conn // by serial (the epoll event's data)
	done  bool

	// fdMu keeps epfd and wake open while they are used: run closes them
	// under the write lock (closed), after which their numbers may be
	// another file's and are never used again.
	fdMu   sync.RWMutex
	closed bool
}

var errPollerClosed = errors.New("connector: poller closed")

// ctl runs epoll_ctl unless the epoll instance is closed.
func (p *poller) ctl(op, fd int, ev *unix.EpollEvent) error {
	p.fdMu.RLock()
	defer p.fdMu.RUnlock()
	if p.closed {
		return errPollerClosed
	}
	return unix.EpollCtl(p.epfd, op, fd, ev)
}

const pollEvents = unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT

// newPoller opens the epoll instance; ready is called (on the poller's
// goroutine: it must not block) for each socket that became readable.
func newPoller(ready func(*conn)) (*poller, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("connector: epoll: %w", err)
	}
	wake, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("connector: eventfd: %w", err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN} // data 0: the wake-up
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wake, &ev); err != nil {
		unix.Close(epfd)
		unix.Close(wake)
		return nil, fmt.Errorf("connector: epoll add eventfd: %w", err)
	}
	return &poller{epfd: epfd, wake: wake, ready: ready, conns: make(map[uint64]*conn)}, nil
}

// socketFD is the file descriptor of a TCP (or Unix) socket; false for
// connections without one (TLS, pipes in tests), which are then read by a
// goroutine of their own.
func socketFD(nc net.Conn) (int, bool) {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return -1, false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return -1, false
	}
	fd := -1
	if rc.Control(func(f uintptr) { fd = int(f) }) != nil {
		return -1, false
	}
	return fd, fd >= 0
}

func eventFor(events uint32, serial uint64) unix.EpollEvent {
	return unix.EpollEvent{Events: events, Fd: int32(uint32(serial)), Pad: int32(uint32(serial >> 32))}
}

// add registers c's socket, disarmed: arm starts watching it.
func (p *poller) add(fd int, c *conn) error {
	p.mu.Lock()
	if p.done {
		p.mu.Unlock()
		return errPollerClosed
	}
	p.conns[c.serial] = c
	p.mu.Unlock()
	ev := eventFor(unix.EPOLLONESHOT, c.serial)
	if err := p.ctl(unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		p.mu.Lock()
		delete(p.conns, c.serial)
		p.mu.Unlock()
		return fmt.Errorf("connector: epoll add: %w", err)
	}
	return nil
}

// arm reports c's socket once, when it is (or already is) readable.
func (p *poller) arm(fd int, c *conn) error {
	ev := eventFor(pollEvents, c.serial)
	if err := p.ctl(unix.EPOLL_CTL_MOD, fd, &ev); err != nil {
		return fmt.Errorf("connector: epoll arm: %w", err)
	}
	return nil
}

// remove stops watching c's socket; call it before the socket is closed.
func (p *poller) remove(fd int, c *conn) {
	p.mu.Lock()
	delete(p.conns, c.serial)
	p.mu.Unlock()
	p.ctl(unix.EPOLL_CTL_DEL, fd, nil)
}

// run reports readable sockets until stop; it closes the epoll instance
// when it returns (add, arm and remove do nothing after that).
func (p *poller) run() {
	defer func() {
		p.fdMu.Lock()
		p.closed = true
		unix.Close(p.epfd)
		unix.Close(p.wake)
		p.fdMu.Unlock()
	}()
	events := make([]unix.EpollEvent, 256)
	for {
		n, err := unix.EpollWait(p.epfd, events, -1)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return
		}
		for _, ev := range events[:n] {
			serial := uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
			if serial == 0 {
				return
			}
			p.mu.Lock()
			c := p.conns[serial]
			p.mu.Unlock()
			if c != nil {
				p.ready(c)
			}
		}
	}
}

// stop ends run. Sockets still registered are not reported any more.
func (p *poller) stop() {
	p.mu.Lock()
	p.done = true
	p.mu.Unlock()
	var one [8]byte
	one[0] = 1 // eventfd counters are host-endian; any non-zero value wakes
	p.fdMu.RLock()
	if !p.closed {
		unix.Write(p.wake, one[:])
	}
	p.fdMu.RUnlock()
}

// pollerSupported reports whether readiness-driven reads are available.
const pollerSupported = true
