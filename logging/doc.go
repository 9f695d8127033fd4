// Package logging builds the process's zerolog logger from the quiet, v,
// vv and silent options, and adapts it for the libraries that want their
// own logger interface (gnet).
//
// Invariant: nothing here formats message bytes; callers hand it text
// that isocodec has already masked.
package logging
