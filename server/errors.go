package server

import "errors"

// Why a request failed; each maps to an HTTP status and, for framed POS
// clients, a response code.
var (
	ErrLinkDown    = errors.New("server: bank link is down")
	ErrLinkDropped = errors.New("server: bank link dropped while the request was in flight")
	ErrTimeout     = errors.New("server: no reply from the bank in time")
	ErrFull        = errors.New("server: queue full")
	ErrStopping    = errors.New("server: shutting down")
	// ErrJournal: the purchase could not be recorded, so it was not sent.
	ErrJournal = errors.New("server: the journal cannot record purchases")
)

// failCodes are the response codes a framed POS client gets when the
// gateway answers in the bank's place.
type failCodes struct {
	timeout, down, full, invalid string
}

func failCodesFor(approved string) failCodes {
	if len(approved) == 3 {
		// smartVista: issuer timed out, switch inoperative, system
		// malfunction, format error.
		return failCodes{"911", "907", "909", "904"}
	}
	return failCodes{"91", "91", "96", "30"}
}

func (f failCodes) of(err error) string {
	switch {
	case errors.Is(err, ErrTimeout):
		return f.timeout
	case errors.Is(err, ErrFull), errors.Is(err, ErrJournal):
		return f.full
	}
	return f.down
}
