// Package transport provides Transport, a drop-in http.RoundTripper that
// wraps net/http's Transport and makes pooled keep-alive connections safe to
// reuse.
//
//	client := &http.Client{Transport: transport.New()}
//
// Every attempt is traced (net/http/httptrace plus a wrapper on every
// connection the base transport dials), and a failed attempt comes back as
// an *AttemptError that records how far the request got (Stage), why it
// failed (Kind), whether its connection was reused and how long that
// connection had been idle. Sentinels such as ErrResetBeforeHeaders,
// ErrServerClosedIdle and ErrUnprocessed make the common questions one
// errors.Is away.
//
// Transport is configured with Option values passed to New; it works under
// http.Client, httputil.ReverseProxy and otelhttp.NewTransport.
package transport
