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
// Keys are hashed to 64 bits (maphash of the key's bytes, never more
// than 47), and the maps are keyed by the hash: a request or terminal
// found under one is compared with the whole key, so keys that hash
// alike share a chain and are still told apart.
//
// A request that goes behind its terminal's lock flies in its
// terminal's slot when the key holds the terminal (41): a reply under
// the key carries the same 41, so one map lookup by it finds the
// terminal, its request in flight, and the queue its turn passes to.
// The chains by key hold the rest (the gateway's own unlocked messages;
// everything with the lock off or a key without 41), and a reply weighs
// the slot's request and the chain's alike, the earliest sent winning a
// tie. Against a chain for every request, a submit and its match take
// 5 map operations instead of 10 and hash 2 keys instead of 4 (when
// none is chained): BenchmarkSubmitMatch at -cpu 1, 185-189 ns against
// 214-219 (the machine's quieter runs). End to end the 30 ns are under
// the noise (pipelined, journal off: 1.58-2.11 µs against 1.57-2.13).
//
// Locks, not ownership: a request takes its shard's lock when
// submitted, marked sent and matched; with the default one event loop
// nothing else holds it then, so it costs an uncontended lock, not a
// wait: about 10 ns a lock and unlock (BenchmarkSubmitMatch at -cpu 1,
// before the slots: 236 ns median against 215 ns with the locks taken
// out), 3 a message, 2% of a pipelined message's gateway CPU, and 3% of
// its profile.
// Shards owned by a loop would take no lock, but HTTP handlers, the
// ticker, the journal's writer and the other loops would each hand
// their requests over to the owner through its task queue: an eventfd
// write and a thread woken where the lock is ten nanoseconds. A lock-free table would still take at least one atomic
// read-modify-write an operation, where the lock takes two.
//
// Invariants: a Request is in at most one place (free, waiting, in flight)
// and the table never hands one out twice; a reply is matched to at most
// one request, and to none if none waits under its key; a terminal with
// the lock on has at most one request in flight; the number of requests
// held never exceeds MaxQueue; a request handed back by Match, Expire,
// Abort or FailAll is no longer referenced by the table.
package dispatch
