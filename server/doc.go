// Package server is the gateway's network side: the link to the bank
// (dialled, or accepted when the bank connects to us), the binary POS
// listener, the JSON and hex HTTP API and the admin listener, around one
// relay (relay.go) that carries every request through its life.
//
// The bank link and the POS connections share one gnet engine, by default
// one event loop, so that a request's whole path (POS bytes in, bank
// bytes out, bank reply in, POS bytes out) stays on one goroutine: requests
// written to the bank and replies written to clients are batched per loop
// wake-up, one write per destination.
//
// Which goroutine may call what:
//
//	goroutine                 may call
//	POS connection's loop     relay.admit (onLoop when it is the link's loop)
//	fasthttp handler          relay.admit; waits on its httpWaiter
//	bank link's loop          relay.reply -> Client.Deliver, relay.sendOnLoop,
//	                          link.flush; owns relay.loop
//	gnet ticker               relay.expire, relay.sendDueReversals, idle checks,
//	                          sendEcho; owns relay.tick
//	journal writer            relay.journaledBatch -> relay.handOff (a link's
//	                          loop runs the commit's purchases, runHanded, at
//	                          the start of its callback), or on a failure
//	                          relay.sendOffLoop; with
//	                          --journalSync=os a loop's own commit, at the
//	                          end of its callback (relay.endCallback; a
//	                          small POS read's at the start of the link's
//	                          callback it wakes, endPOSCallback), runs
//	                          relay.journaledHere on the loop
//	any                       relay.sendOffLoop, Client.Fail, Client.Gone,
//	                          link.send (it wakes the link's loop)
//
// Each loop counts in tallies of its own (tally.go); a read of /metrics
// or /stats runs a copy of them on the loop (EventLoop.Execute) and
// waits for it.
//
// Invariants: nothing from a client reaches the bank unless it scanned
// and validated; every request is answered, failed or (for a client that
// left) accounted for, exactly once; a reply goes only to the request the
// table matched it to; bytes borrowed from gnet or fasthttp are copied
// before they outlive the callback.
package server
