//go:build !linux

package connector

import (
	"errors"
	"net"
)

// poller is Linux's epoll; elsewhere every socket is read by a goroutine of
// its own (see poller_linux.go).
type poller struct{}

func newPoller(func(*conn)) (*poller, error) {
	return nil, errors.New("connector: readiness polling needs Linux")
}
func socketFD(net.Conn) (int, bool)    { return -1, false }
func (p *poller) add(int, *conn) error { return errors.New("connector: no poller") }
func (p *poller) arm(int, *conn) error { return errors.New("connector: no poller") }
func (p *poller) remove(int, *conn)    {}
func (p *poller) run()                 {}
func (p *poller) stop()                {}

const pollerSupported = false
