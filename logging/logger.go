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
	Silent bool      // nothing on the console
	Out    io.Writer // os.Stderr when nil
	JSON   bool      // JSON lines instead of the human console format
	// File, when set, gets every line too (even when Silent), as JSON
	// lines if FileJSON, else in the human format.
	File     io.Writer
	FileJSON bool
	// LogStash, when set, gets every line as JSON.
	LogStash io.Writer
}

// New makes the logger.
func New(o Options) zerolog.Logger {
	var outs []io.Writer
	if !o.Silent {
		out := o.Out
		if out == nil {
			out = os.Stderr
		}
		if !o.JSON {
			out = zerolog.ConsoleWriter{Out: out, TimeFormat: "2006-01-02 15:04:05.000", NoColor: !isTerminal(out)}
		}
		outs = append(outs, out)
	}
	if o.File != nil {
		if o.FileJSON {
			outs = append(outs, o.File)
		} else {
			outs = append(outs, zerolog.ConsoleWriter{Out: o.File, TimeFormat: "2006-01-02 15:04:05.000", NoColor: true})
		}
	}
	if o.LogStash != nil {
		outs = append(outs, o.LogStash)
	}
	var out io.Writer
	switch len(outs) {
	case 0:
		return zerolog.Nop()
	case 1:
		out = outs[0]
	default:
		out = zerolog.MultiLevelWriter(outs...)
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
