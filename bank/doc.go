// Package bank is "Socket Bank": an ISO-8583 host that answers like a
// bank's processing host, for partners who have no bank to test against
// and for the gateway's own tests and benchmarks.
//
// Host holds the rules (echo, purchase, refund, reversal, magic amounts)
// and decides every reply; Ledger holds the accounts and transactions;
// Server puts a Host on gnet event loops behind any isocodec framing;
// Faults makes it misbehave on purpose, driven by an injected random
// source so that a seed reproduces a run.
//
// Invariants: every request gets exactly one decision (a reply, or a
// deliberate silence that the ledger records); a purchase's money moves
// at most once and comes back at most once, however often its reversal
// is repeated; no PAN leaves this package unmasked unless the caller
// asked for it (Snapshot with Dangerous).
package bank
