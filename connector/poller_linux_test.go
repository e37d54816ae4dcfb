//go:build linux

package connector

import (
	"net"
	"testing"

	"golang.org/x/sys/unix"
)

// watching reports whether the poller holds the socket with serial.
func (p *poller) watching(serial uint64) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.conns[serial] != nil
}

// Once the poller has closed its epoll instance, late arms and removes
// (sockets torn down after Close) leave that number alone: another file may
// have it.
func TestPollerLeavesItsClosedEpollNumberAlone(t *testing.T) {
	p, err := newPoller(func(*conn) {})
	if err != nil {
		t.Fatal(err)
	}
	ran := make(chan struct{})
	go func() { p.run(); close(ran) }()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	peer, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	fd, ok := socketFD(nc)
	if !ok {
		t.Fatal("no file descriptor for a TCP socket")
	}
	c := &conn{serial: 7}
	if err := p.add(fd, c); err != nil {
		t.Fatal(err)
	}
	p.stop()
	<-ran

	// Another epoll instance takes the closed one's number and watches the
	// same socket.
	if _, err := unix.FcntlInt(uintptr(p.epfd), unix.F_GETFD, 0); err != unix.EBADF {
		t.Fatalf("the poller's epoll number %d is still open after run returned (%v)", p.epfd, err)
	}
	other, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	if other != p.epfd {
		if err := unix.Dup3(other, p.epfd, unix.O_CLOEXEC); err != nil {
			t.Fatal(err)
		}
		unix.Close(other)
	}
	impostor := p.epfd
	defer unix.Close(impostor)
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: 42}
	if err := unix.EpollCtl(impostor, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		t.Fatal(err)
	}

	if err := p.arm(fd, c); err == nil {
		t.Error("arm after the poller closed succeeded (on another epoll instance)")
	}
	p.remove(fd, c)
	if err := unix.EpollCtl(impostor, unix.EPOLL_CTL_MOD, fd, &ev); err != nil {
		t.Errorf("the poller changed the epoll instance that took its number: %v", err)
	}
	if p.watching(c.serial) {
		t.Error("the poller still holds the removed socket")
	}
}
