//go:build !unix

package testserver

import "testing"

// reserve does nothing here: while a backend is down, another listener
// may take its port.
func reserve(testing.TB, string) (release func()) { return func() {} }
