// Package selftest is the original's test clients: N simulated terminals
// (TIDs 1..N) that connect, send a request, check that the reply is the
// answer to it (MTI, terminal, trace number), log the outcome, and
// reconnect after a random pause, until their rounds are done or they
// are stopped. Pointed at a gateway's POS port (bare framing) or straight
// at a bank (framed as the host), they show a link works end to end.
//
// Invariant: every request ends as exactly one success or one failure
// with a reason, and the Summary adds up to the requests sent.
package selftest
