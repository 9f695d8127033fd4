package logging

import (
	"context"
	"net"
	"sync/atomic"
	"time"

	"github.com/socketqueue/socketqueue-go/clock"
	"github.com/socketqueue/socketqueue-go/isocodec"
)

// LogStash sends JSON log lines to a LogStash TCP input. It never blocks
// the caller: lines go through a bounded queue and are dropped (and
// counted) while LogStash is down or slow; a goroutine dials, writes and
// redials.
type LogStash struct {
	addr    string
	node    string
	lines   chan []byte
	dropped atomic.Int64
	cancel  context.CancelFunc
	done    chan struct{}
}

// logStashQueue bounds the lines held while LogStash is away.
const logStashQueue = 4096

// NewLogStash starts sending to addr; node is added to every line.
func NewLogStash(addr, node string) *LogStash {
	ctx, cancel := context.WithCancel(context.Background())
	l := &LogStash{addr: addr, node: node, lines: make(chan []byte, logStashQueue), cancel: cancel, done: make(chan struct{})}
	go l.run(ctx)
	return l
}

// Write queues one JSON line (zerolog writes one per call).
func (l *LogStash) Write(p []byte) (int, error) {
	line := make([]byte, 0, len(p)+len(l.node)+16)
	if l.node != "" && len(p) > 1 && p[0] == '{' {
		line = append(line, `{"node":`...)
		line = isocodec.AppendJSONString(line, l.node)
		line = append(line, ',')
		line = append(line, p[1:]...)
	} else {
		line = append(line, p...)
	}
	select {
	case l.lines <- line:
	default:
		l.dropped.Add(1)
	}
	return len(p), nil
}

// Dropped is the number of lines lost while LogStash was away.
func (l *LogStash) Dropped() int64 { return l.dropped.Load() }

func (l *LogStash) run(ctx context.Context) {
	defer close(l.done)
	var conn net.Conn
	for {
		select {
		case <-ctx.Done():
			if conn != nil {
				conn.Close()
			}
			return
		case line := <-l.lines:
			for conn == nil {
				d := net.Dialer{Timeout: 3 * time.Second}
				c, err := d.DialContext(ctx, "tcp", l.addr)
				if err == nil {
					conn = c
					break
				}
				l.dropped.Add(1 + int64(len(l.lines)))
				for len(l.lines) > 0 { // stale while we were away
					<-l.lines
				}
				line = nil
				if !clock.Sleep(ctx, 3*time.Second) {
					return
				}
			}
			if line == nil {
				continue
			}
			conn.SetWriteDeadline(time.Now().Add(3 * time.Second))
			if _, err := conn.Write(line); err != nil {
				conn.Close()
				conn = nil
				l.dropped.Add(1)
			}
		}
	}
}

// Close stops sending.
func (l *LogStash) Close() error {
	l.cancel()
	<-l.done
	return nil
}
