// Package tlsconf is the TLS of every listener and dialler: certificates,
// keys and CAs read from PEM files and read again on Reload (SIGHUP)
// without touching open connections, and a listener that finishes each
// handshake, within a deadline, before its server sees the connection.
//
// Invariants: TLS 1.2 at least, with Go's cipher suites and curves (no
// list of our own to go stale); a file that does not load is an error
// naming it, and the files read before stay in use; a client certificate,
// when asked for, is required and verified; a failed or late handshake
// never reaches the server.
package tlsconf
