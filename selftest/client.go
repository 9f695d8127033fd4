package selftest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/socketqueue/socketqueue-go/clock"

	"github.com/socketqueue/socketqueue-go/isocodec"
)

// Config says what the clients do.
type Config struct {
	Addr    string // host:port to connect to
	Clients int
	// Rounds per client; 0 runs until ctx ends.
	Rounds int
	// Messages: "echo", "purchase" (every 5th approved purchase is then
	// reversed), or "mix" (echoes and purchases in turn).
	Messages string
	Dialect  *isocodec.Dialect
	Framing  *isocodec.Framing
	// PauseMin and PauseMax bound the random pause before each reconnect
	// (1 to 8 s, as the original's test client).
	PauseMin, PauseMax time.Duration
	// Timeout is how long a reply may take (default 40 s, past a
	// gateway's 35 s queue timeout).
	Timeout time.Duration
	Seed    uint64
	Log     zerolog.Logger
	// TLS, when set, makes every connection a TLS one.
	TLS *tls.Config
}

// Summary counts the outcomes.
type Summary struct {
	Sent      int64            `json:"sent"`
	OK        int64            `json:"ok"`
	Approved  int64            `json:"approved"` // of OK, replies with the approved code
	Failed    int64            `json:"failed"`
	Failures  map[string]int64 `json:"failures"` // by reason
	Reversals int64            `json:"reversals"`
}

// String is a one-screen summary for the end of a run.
func (s Summary) String() string {
	out := fmt.Sprintf("test clients: %d sent, %d ok (%d approved), %d failed, %d reversals",
		s.Sent, s.OK, s.Approved, s.Failed, s.Reversals)
	reasons := make([]string, 0, len(s.Failures))
	for r := range s.Failures {
		reasons = append(reasons, r)
	}
	sort.Strings(reasons)
	for _, r := range reasons {
		out += fmt.Sprintf("\n  %6d  %s", s.Failures[r], r)
	}
	return out
}

type tally struct {
	mu sync.Mutex
	s  Summary
}

func (t *tally) add(f func(*Summary)) {
	t.mu.Lock()
	f(&t.s)
	t.mu.Unlock()
}

// Run starts the clients and returns their summary once every client has
// done its rounds or ctx is done.
func Run(ctx context.Context, cfg Config) (Summary, error) {
	if cfg.Clients <= 0 || cfg.Dialect == nil || cfg.Framing == nil || cfg.Addr == "" {
		return Summary{}, errors.New("selftest: need clients, an address, a dialect and a framing")
	}
	switch cfg.Messages {
	case "":
		cfg.Messages = "echo"
	case "echo", "purchase", "mix":
	default:
		return Summary{}, fmt.Errorf("selftest: messages %q is not echo, purchase or mix", cfg.Messages)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 40 * time.Second
	}
	if cfg.PauseMax < cfg.PauseMin {
		cfg.PauseMax = cfg.PauseMin
	}
	t := &tally{s: Summary{Failures: map[string]int64{}}}
	var wg sync.WaitGroup
	for i := 1; i <= cfg.Clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := newTerminal(i, &cfg, t)
			c.run(ctx)
		}()
	}
	wg.Wait()
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.s, nil
}

// terminal is one simulated POS.
type terminal struct {
	cfg   *Config
	tally *tally
	tid   string
	pan   string
	stan  int
	n     int // requests made, for the echo/purchase alternation
	rand  *rand.Rand
	log   zerolog.Logger
	buf   []byte
	scan  isocodec.Scan
	// pending is a purchase to reverse next round.
	pending isocodec.Fields
}

func newTerminal(i int, cfg *Config, t *tally) *terminal {
	tid := strconv.Itoa(i)
	tid = "00000000"[len(tid):] + tid
	pan := strconv.Itoa(i)
	pan = "4850780000000000"[:16-len(pan)] + pan
	return &terminal{
		cfg: cfg, tally: t, tid: tid, pan: pan,
		rand: rand.New(rand.NewPCG(cfg.Seed, uint64(i))),
		log:  cfg.Log.With().Str("tid", tid).Logger(),
		buf:  make([]byte, 0, 4096),
	}
}

func (c *terminal) run(ctx context.Context) {
	for round := 0; c.cfg.Rounds == 0 || round < c.cfg.Rounds; round++ {
		if round > 0 && !c.pause(ctx) {
			return
		}
		if ctx.Err() != nil {
			return
		}
		req := c.next()
		reason := c.exchange(ctx, req)
		if reason == "" {
			continue
		}
		if ctx.Err() != nil && round > 0 {
			return // stopped mid-request: not the link's failure
		}
		c.tally.add(func(s *Summary) { s.Failed++; s.Failures[reason]++ })
		c.log.Warn().Str("mti", req[0]).Str("stan", req[11]).Str("reason", reason).Msg("test client: failed")
	}
}

func (c *terminal) pause(ctx context.Context) bool {
	d := c.cfg.PauseMin
	if span := c.cfg.PauseMax - c.cfg.PauseMin; span > 0 {
		d += time.Duration(c.rand.Int64N(int64(span)))
	}
	return clock.Sleep(ctx, d)
}

// exchange sends req on a new connection and checks the reply; it
// returns "" on success or the reason for the failure.
func (c *terminal) exchange(ctx context.Context, req isocodec.Fields) string {
	msg, err := c.cfg.Dialect.Pack(req)
	if err != nil {
		return "cannot pack request: " + err.Error()
	}
	frame, err := c.cfg.Framing.Append(c.buf[:0], msg)
	if err != nil {
		return "cannot frame request: " + err.Error()
	}
	c.tally.add(func(s *Summary) { s.Sent++ })
	var conn net.Conn
	if c.cfg.TLS != nil {
		d := tls.Dialer{NetDialer: &net.Dialer{Timeout: 10 * time.Second}, Config: c.cfg.TLS}
		conn, err = d.DialContext(ctx, "tcp", c.cfg.Addr)
	} else {
		d := net.Dialer{Timeout: 10 * time.Second}
		conn, err = d.DialContext(ctx, "tcp", c.cfg.Addr)
	}
	if err != nil {
		return "connect: " + opError(err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()
	conn.SetDeadline(time.Now().Add(c.cfg.Timeout))
	if _, err := conn.Write(frame); err != nil {
		return "write: " + opError(err)
	}
	reply, err := c.read(conn)
	if err != nil {
		return err.Error()
	}
	return c.check(req, reply)
}

// read reads until the framing yields one message.
func (c *terminal) read(conn net.Conn) ([]byte, error) {
	buf := c.buf[:0]
	var chunk [4096]byte
	for {
		n, err := conn.Read(chunk[:])
		buf = append(buf, chunk[:n]...)
		eof := err != nil
		adv, msg, serr := c.cfg.Framing.Split(buf, eof, &c.scan)
		if serr != nil {
			return nil, errors.New("reply is not a message: " + serr.Error())
		}
		if adv > 0 && len(msg) > 0 {
			return msg, nil
		}
		if adv > 0 { // keep-alive
			buf = append(buf[:0], buf[adv:]...)
			continue
		}
		if eof {
			if opError(err) == "timeout" {
				return nil, errors.New("no reply in time")
			}
			if len(buf) == 0 {
				return nil, errors.New("closed without a reply: " + opError(err))
			}
			return nil, errors.New("closed in the middle of a reply: " + opError(err))
		}
	}
}

func opError(err error) string {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timeout"
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno.Error()
	}
	return err.Error()
}
