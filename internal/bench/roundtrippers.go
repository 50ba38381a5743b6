package main

import (
	"net/http"
	"net/http/httptrace"

	"github.com/failsafe-go/failsafe-go/failsafehttp"
	"github.com/hashicorp/go-retryablehttp"

	"github.com/resilient-http/resilient/transport"
)

// roundTripper is one contender: the client that sends through it and what
// closes its idle connections at the end.
type roundTripper struct {
	name   string
	client *http.Client
	close  func()
}

// newBase is the base every contender gets its own clone of: net/http's
// defaults, with enough idle connections per host that no request waits
// for a dial.
func newBase() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 64
	return t
}

// roundTrippers returns the contenders, the bare transport first: every
// ratio is taken to it.
func roundTrippers() []roundTripper {
	bare := newBase()
	control := newBase()
	ours := transport.New(transport.WithBase(newBase()))

	// go-retryablehttp as its README shows it under an http.Client, with
	// logging off (its default logger writes a line per request) and its
	// pooled client replaced by one over our base.
	rhBase := newBase()
	rh := retryablehttp.NewClient()
	rh.Logger = nil
	rh.HTTPClient = &http.Client{Transport: rhBase}

	// failsafe-go with its default HTTP retry policy.
	fsBase := newBase()
	fs := failsafehttp.NewRoundTripper(fsBase, failsafehttp.NewRetryPolicyBuilder().Build())

	// The floor of any round tripper that watches its connections: the
	// bare transport with two empty httptrace hooks (GotConn and
	// WroteRequest), which net/http only calls through the request's
	// context, so each request is copied to carry them.
	hooked := newBase()

	return []roundTripper{
		{name: "bare http.Transport", client: &http.Client{Transport: bare}, close: bare.CloseIdleConnections},
		{name: "second bare http.Transport (control)", client: &http.Client{Transport: control}, close: control.CloseIdleConnections},
		{name: "bare with two empty httptrace hooks (floor)", client: &http.Client{Transport: hooksOnly{hooked}}, close: hooked.CloseIdleConnections},
		{name: "resilient transport.New()", client: &http.Client{Transport: ours}, close: ours.CloseIdleConnections},
		{name: "go-retryablehttp, no logger", client: rh.StandardClient(), close: rhBase.CloseIdleConnections},
		{name: "failsafe-go, default HTTP retry policy", client: &http.Client{Transport: fs}, close: fsBase.CloseIdleConnections},
	}
}

// emptyHooks are the hooks hooksOnly installs: the two a transport needs
// to know which connection a request took and when it was written.
var emptyHooks = &httptrace.ClientTrace{
	GotConn:      func(httptrace.GotConnInfo) {},
	WroteRequest: func(httptrace.WroteRequestInfo) {},
}

// hooksOnly sends every request through base with emptyHooks in its
// context, and nothing else.
type hooksOnly struct{ base *http.Transport }

func (h hooksOnly) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := h.base.RoundTrip(req.WithContext(httptrace.WithClientTrace(req.Context(), emptyHooks)))
	if resp != nil {
		resp.Request = req
	}
	return resp, err
}
