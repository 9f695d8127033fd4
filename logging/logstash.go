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
// the caller: lines go through a bounded queue. While LogStash is not
// there yet, or away, lines wait in the queue (the oldest kept, up to
// logStashQueue) and go once it is; only those past the bound are
// dropped, and counted. A goroutine dials, writes and redials.
//
// Concurrency: Write and Dropped are safe from any goroutine; the
// OnState callback runs on the sender's goroutine and must not block.
type LogStash struct {
	addr    string
	node    string
	lines   chan []byte
	dropped atomic.Int64
	cancel  context.CancelFunc
	done    chan struct{}
	onState func(up bool, err error)
	retry   time.Duration
}

// logStashQueue bounds the lines held while LogStash is away.
const logStashQueue = 4096

// NewLogStash starts sending to addr; node is added to every line.
// onState (may be nil) is told once each time the link is lost (with why)
// and once each time it is back.
func NewLogStash(addr, node string, onState func(up bool, err error)) *LogStash {
	ctx, cancel := context.WithCancel(context.Background())
	if onState == nil {
		onState = func(bool, error) {}
	}
	l := &LogStash{addr: addr, node: node, lines: make(chan []byte, logStashQueue), cancel: cancel, done: make(chan struct{}),
		onState: onState, retry: 3 * time.Second}
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

// Dropped is the number of lines lost: past the queue's bound while
// LogStash was away or slow.
func (l *LogStash) Dropped() int64 { return l.dropped.Load() }

func (l *LogStash) run(ctx context.Context) {
	defer close(l.done)
	var conn net.Conn
	up := true // until the first dial says otherwise: "lost" is said once
	var line []byte
	for {
		if line == nil {
			select {
			case <-ctx.Done():
				if conn != nil {
					conn.Close()
				}
				return
			case line = <-l.lines:
			}
		}
		if conn == nil {
			d := net.Dialer{Timeout: 3 * time.Second}
			c, err := d.DialContext(ctx, "tcp", l.addr)
			if err != nil {
				if up {
					up = false
					l.onState(false, err)
				}
				// The line and the queue wait for the next dial.
				if !clock.Sleep(ctx, l.retry) {
					return
				}
				continue
			}
			conn = c
			if !up {
				up = true
				l.onState(true, nil)
			}
		}
		conn.SetWriteDeadline(time.Now().Add(3 * time.Second))
		if _, err := conn.Write(line); err != nil {
			conn.Close()
			conn = nil
			if up {
				up = false
				l.onState(false, err)
			}
			continue // the line goes again on the next connection
		}
		line = nil
	}
}

// Close stops sending.
func (l *LogStash) Close() error {
	l.cancel()
	<-l.done
	return nil
}
