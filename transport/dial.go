//lint:file-ignore SA1019 a caller may still set the deprecated Dial and DialTLS fields; they are honoured, then replaced

package transport

import (
	"context"
	"net"
	"net/http"
	"time"
)

// dialFunc is the shape of http.Transport's dialers.
type dialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// installDialers makes every connection the base transport opens, plain or
// TLS, a tracked *conn. base must be our own clone: it is modified.
func (t *Transport) installDialers(base *http.Transport) {
	dial := base.DialContext
	if dial == nil && base.Dial != nil {
		legacy := base.Dial
		dial = func(_ context.Context, network, addr string) (net.Conn, error) { return legacy(network, addr) }
	}
	if dial == nil {
		// The same dialer settings as http.DefaultTransport.
		dial = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	}
	base.Dial = nil
	base.DialContext = t.tracking(dial)

	dialTLS := base.DialTLSContext
	if dialTLS == nil && base.DialTLS != nil {
		legacy := base.DialTLS
		dialTLS = func(_ context.Context, network, addr string) (net.Conn, error) { return legacy(network, addr) }
	}
	base.DialTLS = nil
	if dialTLS != nil {
		base.DialTLSContext = t.tracking(dialTLS)
	}
}

// tracking wraps a dialer so that its connections are tracked.
func (t *Transport) tracking(dial dialFunc) dialFunc {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return newConn(c, t, addr), nil
	}
}
