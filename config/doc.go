// Package config is the process's options: the original SocketQueue's
// names and meanings, plus the ones added since, each with a default, a
// topic and a line of help.
//
// An option is read from, in rising precedence: its default, the JSON
// file given by -c/--c, the environment (SOCKETQUEUE_ and the name in
// upper snake case, e.g. SOCKETQUEUE_UPSTREAM_HOST), and the command line
// (--name=value, or --name alone for a switch). An unknown name or a value
// that does not parse is an error naming the option, never ignored.
package config
