package server

import (
	"errors"
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"github.com/socketqueue/socketqueue-go/clock"
	"github.com/socketqueue/socketqueue-go/cluster"
	"github.com/socketqueue/socketqueue-go/internal/tlsconf"
	"github.com/socketqueue/socketqueue-go/isocodec"
	"github.com/socketqueue/socketqueue-go/journal"
	"github.com/socketqueue/socketqueue-go/metrics"
	"github.com/socketqueue/socketqueue-go/stats"
)

// Config is everything a Gateway needs; New checks it.
type Config struct {
	Dialect *isocodec.Dialect
	// HostFraming frames the bank link; POSFraming the binary clients
	// (bare: one message per connection, answered and closed; framed:
	// persistent and pipelined).
	HostFraming *isocodec.Framing
	POSFraming  *isocodec.Framing
	KeyFields   []int

	// UpstreamAddrs are dialled, each a link of its own (UpstreamAddr,
	// when set, is one more, first); UpstreamListen instead waits for
	// the bank, one link.
	UpstreamAddrs  []string
	UpstreamAddr   string
	UpstreamListen string
	// UpstreamListenLinks is how many connections of the bank the
	// listener keeps, each a link (0: one).
	UpstreamListenLinks int
	// LinkPolicy shares requests among ready links: PolicyRoundRobin
	// (the default) or PolicyFailover.
	LinkPolicy string
	// SignOn signs each link on when it connects (an 0800 with field 70
	// = 001; the link takes traffic once the bank approves) and off on a
	// clean stop (70 = 002).
	SignOn bool
	// SignOnCode and SignOffCode are field 70 of the sign-on and the
	// sign-off (001 and 002 when empty).
	SignOnCode, SignOffCode string
	// EchoMisses takes a link out of rotation after this many of its
	// echoes in a row went unanswered, until one is answered (0: never).
	EchoMisses int
	// RetryRefused and RetryOther are the waits before redialling.
	RetryRefused time.Duration
	RetryOther   time.Duration
	// UpstreamIdle closes a link quiet this long (0: never).
	UpstreamIdle time.Duration
	// EchoInterval sends an 0800 on a link quiet this long (0: never).
	EchoInterval time.Duration
	// EchoTID is the terminal of the gateway's own echoes.
	EchoTID string

	POSAddr  string // "" for none
	HTTPAddr string // "" for none
	// AdminAddr serves /metrics, /stats, /healthz, /livez and /readyz
	// ("" for none); the payments API never serves the first two.
	AdminAddr string
	// AdminPprof also serves Go's profiler at /debug/pprof/ there.
	AdminPprof bool
	// APITokens, when set, are the credentials the HTTP API asks of
	// every payment request (401 without one).
	APITokens []APIToken
	// HTTPTLS, when set, serves the HTTP API over TLS (mutual TLS with a
	// client CA: the certificate's subject names the client in the logs).
	HTTPTLS *tlsconf.ServerFiles
	// POSTLS, when set, serves the POS port over TLS (mutual with a
	// client CA).
	POSTLS *tlsconf.ServerFiles
	// UpstreamTLS, when set, puts the bank link under TLS. Dialled, it
	// is the client's: the CA the bank's certificate must chain to, an
	// optional client certificate (mutual TLS) and the name to expect.
	// Listening, Cert and Key are the server's and CA, when set, the CA
	// the bank's client certificate must chain to (then required).
	UpstreamTLS *tlsconf.ClientFiles
	// TLSHandshake bounds a TLS handshake (10 s when 0).
	TLSHandshake time.Duration
	ClientIdle   time.Duration
	// MaxConns and MaxConnsPerAddr cap the connections of the POS port
	// and of the HTTP API, each (0: no cap); FirstByte closes a POS
	// connection that has sent nothing that long (0: never).
	MaxConns, MaxConnsPerAddr int
	FirstByte                 time.Duration

	MaxQueue     int
	LockTerminal bool
	QueueTimeout time.Duration // client requests
	ShortTimeout time.Duration // the gateway's own messages
	// ExpiryWindow refuses client messages whose local time is further
	// from now (0: 30 s).
	ExpiryWindow time.Duration
	Location     *time.Location

	// Journal records purchases until settled (nil: in memory only).
	// The caller opens and closes it.
	Journal *journal.Journal
	// Cluster, when set, records purchases in the cluster instead of the
	// journal, and holds their terminals across instances.
	Cluster *cluster.Recorder
	// NoAutoReversal: never reverse (--noAutoReversal).
	NoAutoReversal bool
	// JSONWire gives every reply field as the wire's string; otherwise
	// the dialect's JSONNumbers are numbers, as the original's replies.
	JSONWire bool
	// ReversalRepeatMTI is the MTI of a reversal's tries after the first
	// written one (0401 when zero; 0400 for hosts that want the first
	// MTI again).
	ReversalRepeatMTI isocodec.MTI

	// Stats collects the original's figures (nil: none).
	Stats *stats.Stats
	// Metrics collects Prometheus figures (nil: none).
	Metrics *metrics.Metrics

	Clock     clock.Clock
	Log       zerolog.Logger
	Dangerous bool
	// Loops is the number of gnet event loops (0: one, which keeps each
	// request's path on one goroutine).
	Loops int
}

func (c *Config) check() error {
	switch {
	case c.Dialect == nil || c.HostFraming == nil || c.POSFraming == nil:
		return errors.New("server: dialect and framings are required")
	case c.UpstreamAddr == "" && len(c.UpstreamAddrs) == 0 && c.UpstreamListen == "":
		return errors.New("server: no upstream: dial an address or listen for the bank")
	case c.POSAddr == "" && c.HTTPAddr == "":
		return errors.New("server: no clients: give a POS or an HTTP address")
	case c.UpstreamListen != "" && c.UpstreamTLS != nil && (c.UpstreamTLS.Cert == "" || c.UpstreamTLS.Key == ""):
		return errors.New("server: a bank listener over TLS needs its certificate and key")
	case c.POSTLS != nil && (c.POSTLS.Cert == "" || c.POSTLS.Key == ""):
		return errors.New("server: a POS port over TLS needs its certificate and key")
	case c.UpstreamListen != "" && (c.UpstreamAddr != "" || len(c.UpstreamAddrs) > 0):
		return errors.New("server: dial the bank or listen for it, not both")
	case c.LinkPolicy != "" && c.LinkPolicy != PolicyRoundRobin && c.LinkPolicy != PolicyFailover:
		return fmt.Errorf("server: link policy %q: want %s or %s", c.LinkPolicy, PolicyRoundRobin, PolicyFailover)
	}
	if c.UpstreamAddr != "" {
		c.UpstreamAddrs = append([]string{c.UpstreamAddr}, c.UpstreamAddrs...)
		c.UpstreamAddr = ""
	}
	seen := map[string]bool{}
	for _, a := range c.UpstreamAddrs {
		if seen[a] {
			return fmt.Errorf("server: bank link %s given twice", a)
		}
		seen[a] = true
	}
	if c.LinkPolicy == "" {
		c.LinkPolicy = PolicyRoundRobin
	}
	if c.SignOnCode == "" {
		c.SignOnCode = "001"
	}
	if c.SignOffCode == "" {
		c.SignOffCode = "002"
	}
	if len(c.KeyFields) == 0 {
		c.KeyFields = isocodec.DefaultKeyFields
	}
	if c.RetryRefused <= 0 {
		c.RetryRefused = 10 * time.Second
	}
	if c.RetryOther <= 0 {
		c.RetryOther = 3 * time.Second
	}
	if c.QueueTimeout <= 0 {
		c.QueueTimeout = 35 * time.Second
	}
	if c.ShortTimeout <= 0 {
		c.ShortTimeout = 5 * time.Second
	}
	if c.ExpiryWindow <= 0 {
		c.ExpiryWindow = 30 * time.Second
	}
	if c.Location == nil {
		c.Location = time.Local
	}
	if c.Clock == nil {
		c.Clock = clock.System{}
	}
	if c.EchoTID == "" {
		c.EchoTID = "00000000"
	}
	if _, err := c.Dialect.Layout.AppendEdited(nil, isocodec.MTINetwork, nil, nil, isocodec.Set(41, []byte(c.EchoTID))); err != nil {
		// Found at start, not at each echo that cannot be built.
		return fmt.Errorf("server: --upstreamEchoTid %q does not fit field 41 of %s: %w", c.EchoTID, c.Dialect.Name, err)
	}
	if c.TLSHandshake <= 0 {
		c.TLSHandshake = 10 * time.Second
	}
	if c.Loops <= 0 {
		c.Loops = 1
	}
	switch c.ReversalRepeatMTI {
	case isocodec.MTI{}:
		c.ReversalRepeatMTI = isocodec.MTIReversalRepeat
	case isocodec.MTIReversal, isocodec.MTIReversalRepeat, isocodec.MTIReversalAdvice, isocodec.MTIReversalAdviceRp:
	default:
		return fmt.Errorf("server: reversal repeat MTI %s: want 0400, 0401, 0420 or 0421", c.ReversalRepeatMTI)
	}
	return nil
}
