package bank

import (
	"fmt"

	"github.com/panjf2000/gnet/v2"
)

// Mode is how a Server treats its connections, for testing a gateway's
// links: one port of a bank that several serve can be silenced, cut or
// shut while the others go on.
type Mode int32

const (
	// Serve answers (the default).
	Serve Mode = iota
	// Mute decides every request, so money moves, and answers none,
	// echoes included: a host that hangs.
	Mute
	// Refuse closes every connection, and each new one at once.
	Refuse
)

// ParseMode reads a mode's name: serve, mute, refuse, or drop (which
// closes the open connections once and serves on: Serve with drop true).
func ParseMode(name string) (m Mode, drop bool, err error) {
	switch name {
	case "serve":
		return Serve, false, nil
	case "mute":
		return Mute, false, nil
	case "refuse":
		return Refuse, false, nil
	case "drop":
		return Serve, true, nil
	}
	return Serve, false, fmt.Errorf("bank: mode %q: want serve, mute, refuse or drop", name)
}

func (m Mode) String() string {
	switch m {
	case Mute:
		return "mute"
	case Refuse:
		return "refuse"
	}
	return "serve"
}

// SetMode changes how the server treats its connections; with drop (or
// in Refuse) the open ones are closed. Safe from any goroutine.
func (s *Server) SetMode(m Mode, drop bool) {
	s.mode.Store(int32(m))
	s.cfg.Log.Warn().Str("addr", fmt.Sprint(s.addr)).Str("mode", m.String()).Bool("drop", drop).Msg("bank: mode changed")
	if drop || m == Refuse {
		s.open.Range(func(k, _ any) bool {
			_ = k.(gnet.Conn).Close()
			return true
		})
	}
}

// Mode is the server's mode.
func (s *Server) Mode() Mode { return Mode(s.mode.Load()) }

// DeclineSignOns makes the server refuse (true) or approve sign-ons.
// Safe from any goroutine.
func (s *Server) DeclineSignOns(decline bool) {
	s.declineSignOn.Store(decline)
	s.cfg.Log.Warn().Str("addr", fmt.Sprint(s.addr)).Bool("decline", decline).Msg("bank: sign-ons")
}
