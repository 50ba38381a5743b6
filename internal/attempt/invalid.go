package attempt

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// errInvalidRequest is what every verdict of Invalid matches with errors.Is.
var errInvalidRequest = errors.New("resilient: invalid request")

// Invalid reports why req can never succeed as written, or nil when it
// might. It decides from the request alone, by the rules net/http applies
// before it dials: a URL and a Header, an http or https scheme, a host, a
// token for a method, and valid header and trailer fields. Header values
// are never part of the verdict, since they may be secret.
//
// It is meant for failed attempts only: a request that succeeded was valid,
// and checking every header costs time. A scheme served by a protocol
// registered with the base transport's RegisterProtocol is not seen here
// and is reported as unsupported.
func Invalid(req *http.Request) error {
	switch {
	case req.URL == nil:
		return fmt.Errorf("%w: no URL", errInvalidRequest)
	case req.Header == nil:
		return fmt.Errorf("%w: no Header map", errInvalidRequest)
	}
	if err := invalidFields("header", req.Header); err != nil {
		return err
	}
	if err := invalidFields("trailer", req.Trailer); err != nil {
		return err
	}
	if s := req.URL.Scheme; s != "http" && s != "https" {
		return fmt.Errorf("%w: unsupported scheme %q", errInvalidRequest, s)
	}
	if req.Method != "" && strings.IndexFunc(req.Method, notToken) >= 0 {
		return fmt.Errorf("%w: method %q is not a token", errInvalidRequest, req.Method)
	}
	if req.URL.Host == "" {
		return fmt.Errorf("%w: no host in the URL", errInvalidRequest)
	}
	return nil
}

// invalidFields names the first invalid field of h, a header or trailer.
func invalidFields(what string, h http.Header) error {
	for name, values := range h {
		if !httpguts.ValidHeaderFieldName(name) {
			return fmt.Errorf("%w: %s field name %q is not a token", errInvalidRequest, what, name)
		}
		for _, v := range values {
			if !httpguts.ValidHeaderFieldValue(v) {
				return fmt.Errorf("%w: %s field %q has a value with a control character", errInvalidRequest, what, name)
			}
		}
	}
	return nil
}

func notToken(r rune) bool { return !httpguts.IsTokenRune(r) }

// InvalidHTTP2 reports why req can never be sent on an HTTP/2 connection,
// by the rules HTTP/2 adds to Invalid's before any frame is written (RFC
// 9113, section 8.2.2): no connection-specific header fields (Connection
// other than close or keep-alive, Upgrade, Transfer-Encoding other than
// chunked, which are dropped), a Host that is a valid field value, and no
// Trailer naming a framing field. It returns nil when it might be sent.
func InvalidHTTP2(req *http.Request) error {
	if err := Invalid(req); err != nil {
		return err
	}
	h := req.Header
	if vv := h["Upgrade"]; len(vv) > 0 && vv[0] != "" && vv[0] != "chunked" {
		return fmt.Errorf("%w: HTTP/2 forbids the Upgrade header", errInvalidRequest)
	}
	if vv := h["Transfer-Encoding"]; len(vv) > 1 || len(vv) == 1 && vv[0] != "" && vv[0] != "chunked" {
		return fmt.Errorf("%w: HTTP/2 forbids a Transfer-Encoding header", errInvalidRequest)
	}
	if vv := h["Connection"]; len(vv) > 1 || len(vv) == 1 && vv[0] != "" &&
		!strings.EqualFold(vv[0], "close") && !strings.EqualFold(vv[0], "keep-alive") {
		return fmt.Errorf("%w: HTTP/2 forbids a Connection header", errInvalidRequest)
	}
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	if host, err := httpguts.PunycodeHostPort(host); err != nil || !httpguts.ValidHostHeader(host) {
		return fmt.Errorf("%w: the Host is not a valid field value", errInvalidRequest)
	}
	for k := range req.Trailer {
		switch http.CanonicalHeaderKey(k) {
		case "Transfer-Encoding", "Trailer", "Content-Length":
			return fmt.Errorf("%w: trailer field %q is not allowed", errInvalidRequest, k)
		}
	}
	return nil
}
