// Package transport provides Transport, a drop-in http.RoundTripper that
// wraps net/http's Transport and makes pooled keep-alive connections safe
// to reuse.
//
//	client := &http.Client{Transport: transport.New()}
//
// A failed attempt comes back as an [*AttemptError] that records how far
// the request got and why it failed (a [retry.Stage] and a [retry.Kind]);
// sentinels such as [ErrResetBeforeHeaders], [ErrServerClosedIdle] and
// [ErrUnprocessed] make the common questions one errors.Is away. Failed
// attempts are retried as [Transport] describes, under a [retry.Policy].
//
// A Transport is configured with [Option] values passed to [New]; it works
// under http.Client, httputil.ReverseProxy and otelhttp.NewTransport.
package transport
