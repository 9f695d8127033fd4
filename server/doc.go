// Package server is the gateway's network side: the one permanent link to
// the bank (dialled, or accepted when the bank connects to us), the binary
// POS listener, and the JSON and hex HTTP API, all around one
// dispatch.Table.
//
// The bank link and the POS connections share one gnet engine, by default
// one event loop, so that a request's whole path (POS bytes in, bank
// bytes out, bank reply in, POS bytes out) stays on one goroutine: requests
// written to the bank and replies written to clients are batched per loop
// wake-up, one write per destination. HTTP handlers run on fasthttp's
// goroutines and hand requests to the link through a locked buffer.
//
// Invariants: nothing from a client reaches the bank unless it scanned
// and validated; every request is answered, failed or (for a client that
// left) accounted for, exactly once; a reply goes only to the request the
// table matched it to; bytes borrowed from gnet or fasthttp are copied
// before they outlive the callback.
package server
