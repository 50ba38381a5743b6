// Package testserver starts real backends on 127.0.0.1 for tests: a
// Node.js http.Server (Node) and nginx (Nginx), each with a keep-alive
// timeout. Each stops in t.Cleanup. Under CI=true a missing runtime fails
// the test, otherwise it is skipped.
package testserver
