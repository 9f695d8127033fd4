package logging

import (
	"io"
	"os"

	"github.com/rs/zerolog"
)

// Options choose how much is logged and where.
type Options struct {
	// Level: 0 quiet (warnings and errors), 1 info (v), 2 verbose (vv,
	// with readable message dumps).
	Level  int
	Silent bool      // nothing at all
	Out    io.Writer // os.Stderr when nil
	JSON   bool      // JSON lines instead of the human console format
}

// New makes the logger.
func New(o Options) zerolog.Logger {
	if o.Silent {
		return zerolog.Nop()
	}
	out := o.Out
	if out == nil {
		out = os.Stderr
	}
	if !o.JSON {
		out = zerolog.ConsoleWriter{Out: out, TimeFormat: "2006-01-02 15:04:05.000", NoColor: !isTerminal(out)}
	}
	lvl := zerolog.WarnLevel
	switch {
	case o.Level >= 2:
		lvl = zerolog.DebugLevel
	case o.Level == 1:
		lvl = zerolog.InfoLevel
	}
	// Milliseconds matter when reading a payment's path through the logs;
	// the format is zerolog's only global, and this is the one place that
	// sets it.
	zerolog.TimeFieldFormat = "2006-01-02T15:04:05.000Z07:00"
	return zerolog.New(out).Level(lvl).With().Timestamp().Logger()
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
