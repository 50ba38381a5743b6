package retry

import "net/http"

// Idempotent reports whether repeating req cannot change the result beyond
// running it once: its method is idempotent per RFC 9110 (GET, HEAD,
// OPTIONS, TRACE, PUT, DELETE), or it carries an Idempotency-Key or
// X-Idempotency-Key header that lets the server de-duplicate it.
func Idempotent(req *http.Request) bool {
	switch req.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		return true
	}
	return hasIdempotencyKey(req.Header)
}

// IdempotencyKeyHeader is the header of draft-ietf-httpapi-idempotency-key-header.
const IdempotencyKeyHeader = "Idempotency-Key"

func hasIdempotencyKey(h http.Header) bool {
	// Direct map lookups: canonical keys, no allocation.
	return len(h["Idempotency-Key"]) > 0 || len(h["X-Idempotency-Key"]) > 0
}
