// Package journal keeps every purchase the gateway has sent to the bank
// until it is settled, on disk, so that a purchase whose answer may have
// been lost is reversed even after a crash or kill -9.
//
// The journal is a log: a directory of segment files, each a run of
// checksummed records (segment.go). A record carries the operations of
// one group commit, in the order they were queued: put an entry (a
// purchase sent, a reversal due, a reversal given up) or settle one. The
// live entries are the puts not yet settled; only they are kept in
// memory, as their place in the current segment.
//
// Invariants:
//   - Begin's purchase is in the Notify callback's batch only once its
//     record is on disk (or with the error that kept it off); nothing is
//     acknowledged that a crash could lose.
//   - Operations are applied in the order they were queued.
//   - Every live entry is in the current segment: a full segment is
//     replaced by a new one that opens with a checkpoint of the live
//     entries, synced before the old one goes. Replaying the segments in
//     order therefore gives the live set whatever the moment of a crash.
//   - After a write, sync or rotation error the journal refuses every
//     Begin, so that no purchase goes to the bank unrecorded, until it
//     writes again. The operations it could not write (the settles of
//     purchases answered meanwhile above all) are held and written first
//     when it can; at Close they are kept in a file reserved for them
//     (unrecorded.go). A crash while it cannot write loses what it held:
//     those purchases are reversed at the next start.
//   - A damaged journal (not as a crash leaves one) is refused at Open
//     with the file and offset, unless SkipDamage (replay.go).
//
// Commits are made one at a time (cmu), by the journal's writer
// goroutine, or with NoSync by the goroutine that calls Wake for what it
// queued with BeginLater: a write to the OS cache costs less than the
// hand-off to the writer and back. Failures, their retries and the
// replacement of a full segment stay the writer's.
//
// One sync per group commit, on a file whose blocks were written before
// (a recycled or zero-filled segment), so that the sync carries data and
// no file-size metadata: about half the latency of an append here, and
// the purchase waits for it before it goes to the bank.
package journal
