// Command freeport prints N free TCP ports on 127.0.0.1, one a line, for
// the test command to start Redis, FerretDB and MinIO on. All N listeners
// are open at once, so the ports are distinct; they are closed before this
// exits, so a port may in rare cases be taken again before the service binds
// it: tests/run.sh retries a start that fails.
//
//	freeport [N]
package main

import (
	"fmt"
	"net"
	"os"
	"strconv"
)

func main() {
	n := 1
	if len(os.Args) > 1 {
		var err error
		if n, err = strconv.Atoi(os.Args[1]); err != nil || n < 1 {
			fmt.Fprintln(os.Stderr, "usage: freeport [N]")
			os.Exit(2)
		}
	}
	ls := make([]net.Listener, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			fmt.Fprintln(os.Stderr, "freeport:", err)
			os.Exit(1)
		}
		ls = append(ls, l)
	}
	for _, l := range ls {
		fmt.Println(l.Addr().(*net.TCPAddr).Port)
		l.Close()
	}
}
