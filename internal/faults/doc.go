// Package faults holds the fault suite and nothing else: tests that put
// transport.New and a bare http.Transport side by side against real
// servers on 127.0.0.1 (Go's http.Server, Node.js, nginx, Apache httpd; see
// internal/testserver) while the servers misbehave the way production
// backends do: closing idle connections, resetting them, restarting,
// draining HTTP/2 connections with GOAWAY, answering slowly or never,
// shedding load with 503.
//
// Each scenario lives in its own file and states what it asserts: the
// errors the caller sees, how many times the server ran each request id
// (never twice for a POST unless the caller opted in), and how many
// connections were dialed. The bare transport's numbers are logged beside
// ours, not asserted: they show the problem, ours must show the fix.
//
// Run it with go test ./internal/faults; -v prints the comparison.
package faults
