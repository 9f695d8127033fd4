// Package dispatch is the gateway's memory of who is waiting for what:
// the in-flight table that matches each bank reply to the request it
// answers, the per-terminal queue that keeps one request per TID at the
// bank, the bound on requests held, and the deadlines.
//
// The table is split into shards by terminal (field 41), each with its
// own lock and timing wheel, so that requests for different terminals
// never contend on one lock. When the key fields do not include the
// terminal, replies cannot be sent to a shard by it and the table has one
// shard.
//
// Invariants: a Request is in at most one place (free, waiting, in flight)
// and the table never hands one out twice; a reply is matched to at most
// one request, and to none if none waits under its key; a terminal with
// the lock on has at most one request in flight; the number of requests
// held never exceeds MaxQueue; a request handed back by Match, Expire,
// Abort or FailAll is no longer referenced by the table.
package dispatch
