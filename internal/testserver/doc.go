// Package testserver starts real backends on 127.0.0.1 for tests: Go's
// http.Server, a Node.js http.Server, nginx and Apache httpd. Each stops
// in t.Cleanup. Under CI=true a missing runtime fails the test, otherwise
// it is skipped.
//
// A Backend keeps a ledger of executions per X-Request-Id, and behaves as
// the query of each request asks, the same way on every server:
//
//	sleep=MS          answer after MS milliseconds
//	hang=1            never answer (until the client or the server goes away)
//	status=CODE       answer with CODE; with fail=N only the first N
//	                  executions of the request id do, the others get 200
//	retry_after=V     send Retry-After: V with that status
//	reset=before      on a reused connection, reset it (RST) before the
//	                  request runs
//	reset=after       on a reused connection, run the request, then reset
//	                  the connection instead of answering
//
// A request with an Idempotency-Key runs once per key: a repeat is answered
// 200 without running again, as draft-ietf-httpapi-idempotency-key-header
// asks of servers.
package testserver
