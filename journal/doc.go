// Package journal keeps every purchase the gateway has sent to the bank
// until it is settled, on disk, so that a purchase whose answer may have
// been lost is reversed even after a crash or kill -9.
//
// The store is bbolt: one file, copy-on-write B+tree pages and a double
// meta page, so a write torn by a crash leaves the previous committed
// state intact; no log replay of ours is needed.
//
// Records live in bucket "open", key the 8-byte big-endian id, value:
//
//	+---------+-------+-----------+---------------+-----------+--------+---------+
//	| version | state | tries     | next try      | reason    | reason | message |
//	| 1 byte  | 1     | 2 (BE)    | 8 (BE, ns)    | length 1  | n      | rest    |
//	+---------+-------+-----------+---------------+-----------+--------+---------+
//
// State 1 is Sent (no answer yet), 2 Reversing (a reversal is due).
// A settled purchase is deleted. A reversal given up is moved to bucket
// "gaveup" for an operator to look at.
//
// Writes are grouped: callers queue operations, one goroutine applies all
// that are queued in one transaction with one sync, then tells the
// callers. Invariant: Begin's callback runs only after its record is on
// disk; operations on one id are applied in the order they were queued.
package journal
