package logging

import (
	"fmt"

	gnetlog "github.com/panjf2000/gnet/v2/pkg/logging"
	"github.com/rs/zerolog"
)

// Gnet adapts l for gnet, whose own start-up chatter goes to debug.
func Gnet(l zerolog.Logger) gnetlog.Logger { return gnetLogger{l.With().Str("lib", "gnet").Logger()} }

type gnetLogger struct{ l zerolog.Logger }

func (g gnetLogger) Debugf(format string, args ...any) { g.l.Debug().Msg(fmt.Sprintf(format, args...)) }
func (g gnetLogger) Infof(format string, args ...any)  { g.l.Debug().Msg(fmt.Sprintf(format, args...)) }
func (g gnetLogger) Warnf(format string, args ...any)  { g.l.Warn().Msg(fmt.Sprintf(format, args...)) }
func (g gnetLogger) Errorf(format string, args ...any) { g.l.Error().Msg(fmt.Sprintf(format, args...)) }
func (g gnetLogger) Fatalf(format string, args ...any) { g.l.Error().Msg(fmt.Sprintf(format, args...)) }
