package testenv

import (
	"net"
	"sync"
	"testing"
)

// Silent listens on a loopback port that accepts TCP connections and never
// answers on them, as a wrong port, a stuck engine or a registry that hangs
// in its TLS handshake does. The listener and every connection it accepted
// close when the test ends.
func Silent(t testing.TB) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return l
}
