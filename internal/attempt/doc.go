// Package attempt classifies one HTTP attempt: how far the request got on
// its connection before it failed (a retry.Stage), and why it failed (a
// retry.Kind). Package transport turns the answer into an
// *transport.AttemptError.
//
// Evidence is what the server cannot forge from afar: the bytes counted on
// the connection, the types of the errors in the chain, and the request's
// own context. Error messages are not evidence: a server can put any text
// into a header line or a GOAWAY's debug data, and net/http copies it into
// its errors. A message may at most name the Kind of an error that
// net/http does not export, where the server cannot have written it; it
// never marks an attempt unprocessed.
package attempt
