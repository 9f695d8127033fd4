package dispatch

import (
	"time"

	"github.com/socketqueue/socketqueue-go/dispatch/wheel"
	"github.com/socketqueue/socketqueue-go/isocodec"
)

// State is where a Request is.
type State uint8

const (
	// Free: not in the table.
	Free State = iota
	// Waiting behind another request for its terminal.
	Waiting
	// InFlight: written (or being written) to the bank, awaiting a reply.
	InFlight
)

// Client is whoever waits for a request's answer: a POS connection, an
// HTTP request, or the gateway itself (its echoes, reversal tries). The
// table only stores it; the gateway calls it, once per request, with
// Deliver or Fail.
//
// Deliver runs on the bank link's event loop; Fail runs on whichever
// goroutine ended the request (the link's loop, the ticker, the journal's
// writer, an HTTP handler); Gone may be called from any goroutine. None
// may block: they run on event loops that serve every other client.
type Client interface {
	// Deliver hands over the bank's reply to r; reply and s are borrowed
	// for the call only.
	Deliver(r *Request, reply []byte, s *isocodec.Scan)
	// Fail ends r without a reply, for the reason err says.
	Fail(r *Request, err error)
	// Gone reports that the client can no longer be answered.
	Gone() bool
}

// Request is one message that waits for a reply from the bank. Get one
// from Table.Get, fill it with Fill, and give it back with Table.Put once
// nothing refers to it any more.
type Request struct {
	Key isocodec.Key // the match key (queueMessageKeyFields)
	TID isocodec.Key // the terminal, field 41; empty when absent
	MTI isocodec.MTI
	// Msg is the bare message, owned by the request.
	Msg    []byte
	Client Client
	// Own marks a message the gateway made itself (echo, reversal).
	Own bool
	// HasRRN: the message carries field 37 (an 0200 that refers to a
	// transaction the bank knows; never reversed).
	HasRRN bool
	// Sent is when the request went to the bank (Unix nanoseconds); 0
	// while it has not. Set by Table.MarkSent, read once the table has
	// handed the request back.
	Sent int64
	// Link is the bank link the request was written on (set by
	// Table.MarkSent; then, once matched, the link its reply came on).
	// Pinned: it must go on Link (the gateway's own message for it).
	Link   int32
	Pinned bool
	// Unlocked goes at once, not behind its terminal: the gateway's own
	// network messages, one per link, which share a terminal id.
	Unlocked bool
	// Arrived is when the client's request arrived (Unix nanoseconds).
	Arrived int64
	// JournalID is the request's record in the journal (0: none).
	JournalID uint64
	// Begun is when it was handed to the journal (Unix nanoseconds).
	Begun int64
	// TryTimeout, when set, restarts the request's deadline when it is
	// marked sent: a reversal's try is timed from when it is written to
	// the bank, not from when it was queued behind its terminal (the
	// deadline given to Submit bounds only the wait for its turn).
	TryTimeout time.Duration

	// For telling apart two requests under one key: a reply carries
	// the amount, and a card number where the request had track 2.
	amount    [12]byte
	amountLen uint8
	cardPAN   [19]byte // from track 2, up to its separator
	cardLen   uint8

	// The table's hashes of Key and TID, set by Submit.
	keyHash, tidHash uint64

	state   State
	onTerm  bool   // in flight in its terminal's slot, not in a chain
	seq     uint64 // when it was put in flight, in its shard
	timer   wheel.Timer
	sameKey *Request // next in flight under the same key
	queued  *Request // next waiting for the same terminal
	shard   *shard
}

// State is where the request is now.
func (r *Request) State() State { return r.state }

var tidField = []int{41}

// KeyOf is the match key of msg (its keyFields) and its terminal (field
// 41; empty when absent), as requests and replies are both keyed.
func KeyOf(s *isocodec.Scan, msg []byte, keyFields []int) (key, tid isocodec.Key) {
	key = isocodec.Key{}.Append(s, msg, keyFields)
	if s.Has(41) {
		tid = tid.Append(s, msg, tidField)
	}
	return key, tid
}

// Fill sets the request from a scanned message: its key, terminal, MTI
// and the fields that tell requests apart, and copies msg (reusing the
// request's buffer). s must describe msg.
func (r *Request) Fill(d *isocodec.Dialect, msg []byte, s *isocodec.Scan, keyFields []int) {
	r.Key, r.TID = KeyOf(s, msg, keyFields)
	r.MTI = s.MTI
	r.HasRRN = s.Has(37)
	r.Msg = append(r.Msg[:0], msg[:s.Len]...)
	r.amountLen = 0
	if s.Has(4) {
		r.amountLen = uint8(copy(r.amount[:], s.Raw(msg, 4)))
	}
	r.cardLen = 0
	if s.Has(35) && s.Units(35) <= 40 {
		var buf [40]byte
		t2 := d.Layout.AppendText(buf[:0], s, msg, 35)
		for _, c := range t2 {
			if c < '0' || c > '9' || int(r.cardLen) == len(r.cardPAN) {
				break
			}
			r.cardPAN[r.cardLen] = c
			r.cardLen++
		}
	}
}

func (r *Request) reset() {
	msg := r.Msg[:0]
	*r = Request{Msg: msg}
	r.timer.Value = r
}
