package idle

import "time"

// roundTrip estimates the round trip to a backend from how long its
// connections took to establish, as TCP does its retransmission timeout
// (RFC 6298): a smoothed time and its variation.
type roundTrip struct {
	srtt, rttvar time.Duration // zero srtt: nothing known
}

// seen records a connection that took d to establish.
func (r *roundTrip) seen(d time.Duration) {
	if r.srtt == 0 {
		r.srtt, r.rttvar = d, d/2
		return
	}
	r.rttvar = (3*r.rttvar + absDiff(r.srtt, d)) / 4
	r.srtt = (7*r.srtt + d) / 8
}

// margin is how long a request may take to reach the backend, with the
// variation of that time: the smoothed round trip plus four times its
// variation. A request sent at the limit reaches the backend that much
// later on the backend's own idle clock (see the package doc).
func (r *roundTrip) margin() time.Duration {
	return r.srtt + 4*r.rttvar
}

// maxRoundTrip bounds the connect times a Tracker takes as round trips: a
// connect that took longer waited for something else (a lost SYN
// retransmitted, a slow resolver), and would shorten every limit for as
// long as it weighed in the estimate.
const maxRoundTrip = time.Second

// ObserveConnect records that a new connection to the backend key took
// took to establish (the TCP connect, about one round trip; a TLS
// handshake or a name lookup included only make it longer). The limits of
// the backend then leave the round trip to spare: a request sent at the
// limit reaches the backend a round trip after the idle time the limit
// counts, on the backend's own clock (see the package doc). Times of a
// second or more are taken as a second.
//
// Package transport calls it for the connections it dials; so may a
// caller feeding a shared Tracker.
func (t *Tracker) ObserveConnect(key string, took time.Duration) {
	if took <= 0 {
		return
	}
	now := t.clock()
	t.update(key, now, false, func(b *backend) { b.rtt.seen(min(took, maxRoundTrip)) })
}
