// Package latency is a TCP relay that delays every byte and every close by
// a fixed one-way latency.
//
// On loopback a backend's FIN reaches the client within microseconds, so
// the race between a backend closing an idle connection and the client
// reusing it almost never shows. Behind this relay it takes as long as on a
// real network: a request sent in the last round-trip time before the
// client learns of the close meets a dead connection, exactly as in
// production. Tests and examples use it; the library does not.
package latency
