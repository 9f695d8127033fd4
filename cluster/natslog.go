package cluster

import (
	"fmt"
	"sync/atomic"

	"github.com/rs/zerolog"
)

// natsLog is the embedded node's logger: its notices at info once it is
// up (its start-up banner at debug), warnings and errors as such; debug
// and trace are never turned on in the node.
type natsLog struct {
	log zerolog.Logger
	up  *atomic.Bool
}

func (l natsLog) Noticef(format string, v ...any) {
	if l.up.Load() {
		l.log.Info().Msg(fmt.Sprintf(format, v...))
	} else {
		l.log.Debug().Msg(fmt.Sprintf(format, v...))
	}
}
func (l natsLog) Warnf(format string, v ...any)  { l.log.Warn().Msg(fmt.Sprintf(format, v...)) }
func (l natsLog) Errorf(format string, v ...any) { l.log.Error().Msg(fmt.Sprintf(format, v...)) }
func (l natsLog) Fatalf(format string, v ...any) { l.log.Error().Msg(fmt.Sprintf(format, v...)) }
func (l natsLog) Debugf(string, ...any)          {}
func (l natsLog) Tracef(string, ...any)          {}
