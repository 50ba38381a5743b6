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
	if dial == nil && base.Dial != nil { //nolint:staticcheck // honour the deprecated field if that is what the caller set
		legacy := base.Dial //nolint:staticcheck // as above
		dial = func(_ context.Context, network, addr string) (net.Conn, error) { return legacy(network, addr) }
	}
	if dial == nil {
		// The same dialer settings as http.DefaultTransport.
		dial = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	}
	base.Dial = nil //nolint:staticcheck // replaced by DialContext below
	base.DialContext = t.tracking(dial)

	dialTLS := base.DialTLSContext
	if dialTLS == nil && base.DialTLS != nil { //nolint:staticcheck // honour the deprecated field
		legacy := base.DialTLS //nolint:staticcheck // as above
		dialTLS = func(_ context.Context, network, addr string) (net.Conn, error) { return legacy(network, addr) }
	}
	base.DialTLS = nil //nolint:staticcheck // replaced by DialTLSContext below
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
		return newConn(c, t), nil
	}
}
