package stats

import (
	"errors"
	"net"
	"time"
)

// ServeTCP answers every connection on ln with the figures as one JSON
// line and closes it, until ln is closed.
func (s *Stats) ServeTCP(ln net.Listener) error {
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		go func() {
			defer c.Close()
			c.SetWriteDeadline(time.Now().Add(5 * time.Second))
			c.Write(append(s.AppendJSON(nil), '\n'))
		}()
	}
}
