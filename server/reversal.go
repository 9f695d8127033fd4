package server

import (
	"errors"
	"time"

	"github.com/socketqueue/socketqueue-go/dispatch"
	"github.com/socketqueue/socketqueue-go/isocodec"
	"github.com/socketqueue/socketqueue-go/reversal"
)

// reversalTry is the client of one try of a reversal: the bank's answer,
// or its absence, goes back to the Reverser.
type reversalTry struct {
	rev *reversal.Reverser
	rv  *reversal.Reversal
	now func() time.Time
}

var _ dispatch.Client = (*reversalTry)(nil)

func (t *reversalTry) Deliver(_ *dispatch.Request, reply []byte, s *isocodec.Scan) {
	t.rev.Answered(t.rv, s, reply, t.now())
}

func (t *reversalTry) Fail(r *dispatch.Request, err error) {
	if errors.Is(err, ErrLinkDown) || r.Sent == 0 {
		// Never went out (no link, or it waited behind its terminal
		// past its bound): not a try.
		t.rev.Unsent(t.rv)
		return
	}
	t.rev.Failed(t.rv, t.now())
}

// Gone is never true: the gateway does not leave.
func (t *reversalTry) Gone() bool { return false }

// sendDueReversals sends the reversals whose time has come; it runs on
// the ticker, and only while the link is up (a try the link cannot carry
// is not a try).
func (rl *relay) sendDueReversals(now time.Time) {
	if !rl.bank.Ready() || rl.rev.Schedule().Len() == 0 {
		return
	}
	rl.tick.due = rl.rev.Due(now, rl.tick.due[:0])
	for i := range rl.tick.due {
		t := &rl.tick.due[i]
		rv := t.Reversal
		// Logged before it goes: once sent, the answer may settle rv on
		// the link's loop.
		rl.rev.Sent(t)
		rl.countOwn(t.Scan.MTI)
		rv.Key, _ = dispatch.KeyOf(&t.Scan, t.Msg, rl.cfg.KeyFields)
		// The try is timed from when it is written; behind a busy
		// terminal it may wait for the requests ahead of it, each bound
		// by the queue timeout (a wait past that is not a try). In a
		// cluster it waits for none: the purchase's record still holds
		// the terminal, so no other request of it is at the bank, and
		// the next one in its queue waits for that record, so a
		// reversal behind it would wait for itself.
		err := rl.admit(admission{msg: t.Msg, scan: &t.Scan, own: true, now: now,
			client: &reversalTry{rev: rl.rev, rv: rv, now: rl.now}, unlocked: rl.owner != nil,
			wait: rl.cfg.QueueTimeout + rl.cfg.ShortTimeout, tryTimeout: rl.cfg.ShortTimeout})
		if err != nil {
			rl.rev.Unsent(rv)
		}
		*t = reversal.Try{}
	}
}
