// Package reversal undoes purchases whose answer may not have reached
// their client: it decides which to reverse, builds the reversal message
// for the dialect, schedules its tries, reads the bank's answers, and
// records each step in a Store so that a restart resumes where it was.
//
// The gateway carries the tries: it asks Due for the reversals whose time
// has come, sends each as it sends any request, and reports back with
// Answered, Failed or Unsent. This package never touches a socket.
//
// Invariants: a reversal is handed out by Due (or Late) at most once at a
// time and comes back exactly once; a try that never reached the bank is
// not counted; a reversal ends (approved, refused, given up) exactly once
// and its record is settled or kept for an operator then; the schedule is
// MaxTries tries, the first at once, then 2 s, then 10 s up to the 8th,
// then 300 s.
package reversal
