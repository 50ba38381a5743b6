// Package attempt classifies one HTTP attempt: how far the request got on
// its connection before it failed, and why it failed.
//
// It is internal plumbing shared by the transport (which observes attempts)
// and the retry policy (which decides from them). Users see these types
// through the aliases in package transport.
package attempt
