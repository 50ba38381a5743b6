// Package idle keeps, per backend, how long a pooled keep-alive HTTP/1
// connection may sit idle before the client must close it, so that the
// client always closes first and never reuses a connection the backend is
// closing. Idle limits apply to HTTP/1 connections only: HTTP/2
// connections carry requests concurrently and are checked with pings
// instead ([github.com/resilient-http/resilient/transport.WithHTTP2HealthCheck]).
//
// The effective limit of a backend is
//
//	min(scaled(min(configured, advertised, stale)), measured close - margin)
//
// where scaled(d) is the smaller of d x ratio and d less the backend's
// round trip (see "Round trip" below); a measured close, see below,
// replaces the advertised timeout, and gets the margin once three closes
// agree, scaled until then. The limit is clamped to [Tracker.Floor,
// Tracker.Ceiling]. Configured timeouts come from the caller.
// Observations expire after [Tracker.TTL], each on its own, so that a
// limit can rise again when a backend is reconfigured.
//
// # Advertised timeouts
//
// Advertised timeouts come from Keep-Alive: timeout=N, max=M response
// headers. Node.js sends one on every response, nginx when its
// keepalive_timeout has a second parameter, and Apache httpd only to a
// request that says Connection: keep-alive; Go's http.Server and most
// others never do. HTTP/1.1 needs no such header for a persistent
// connection, so a client sends it only to ask: [Tracker.AskKeepAlive]
// says, cheaply on every request, whether a backend's advertisement is
// unknown or due for a refresh.
//
// N is whole seconds, rounded down: timeout=N means a setting in [N, N+1)
// seconds, and a close no sooner than N, since Apache closes at its
// setting and Node.js a second after it. So timeout=N teaches a timeout
// of N, below or at the real close. timeout=0 means a setting under a
// second (Apache's KeepAliveTimeout 300ms closes at 300 ms, Node.js's
// keepAliveTimeout 300 at 1.3 s) and gives no lower bound: the limit is
// then 50 ms (or Floor, when higher) until a close of the backend's own
// is observed, which then sizes it alone.
//
// # Observed timeouts
//
// A connection the backend closed while it sat idle in the pool, seen as
// it happened, measures the backend's timeout ([Tracker.ObserveClosedIdle]):
// nothing raced it, so it is the same evidence as a watched close (below),
// and sets the limit the same way. Closes that reveal a restart (many
// connections closed at once after idle times far apart) teach nothing.
//
// A request that failed on a reused connection is evidence only when it
// has a stale connection's shape ([Tracker.ObserveStale]): no response
// byte, soon after the request was written. Even then one failure can be
// a reset of the backend's own, so it needs confirmation by a second
// before it lowers a limit below what the backend's other evidence says,
// in particular below idle times after which reuses succeeded
// ([Tracker.ObserveReuse]); unconfirmed, it lowers the limit for a minute
// at most.
//
// # Watched closes
//
// An advertised timeout is a lower bound on when the backend really
// closes: Node.js closes a second after it, Apache on time, and the
// header cannot tell them apart. A connection the client retires at its
// limit can show which: package transport keeps it open, unused, until
// the backend closes it ([Tracker.ObserveWatchedClose]). Nothing can race
// that close, so it measures the real timeout; while it holds (TTL) it
// replaces the advertised one.
//
// A measured close, watched or of a pooled connection, is a fact rather
// than a setting whose slack is unknown. Once three measured closes, seen
// at least 50 ms apart, and every other close kept, lie within 50 ms of
// each other, the backend closes on time, and the limit is the smallest
// less a margin, not a ratio of it: 50 ms for what can still go wrong on
// the client's side (the client's timer firing late, its goroutines
// running late under load: scheduling and GC pauses on a busy 2-core
// machine), plus a 64th of the close (1.6 %) for coarse server timers,
// plus the spread of the closes, plus the round trip; a close under the
// margin gives Floor. Go's http.Server, nginx, Apache httpd (event MPM)
// and Node.js close within a few milliseconds of their setting (Node.js a
// second after it; TestServersCloseOnTime). Until three closes agree, or
// when closes lie further apart (a server that sweeps its idle connections
// once a second closes anywhere in that second, and one close tells
// nothing of the next; two such closes agree within 50 ms one time in
// ten, three one time in 150), the smallest is scaled. Closes seen within
// 50 ms of each other count as one: connections that went idle together
// close together. A close is measured from when the client released the
// connection, after the backend's own idle clock started, so it errs
// short, unless the client stalls: the goroutine that sees the close runs
// only when scheduled, and a container throttled by its CPU quota stops
// for up to 100 ms. A close measured less than 250 ms past the advertised
// timeout therefore counts as the advertised timeout. Configured timeouts
// keep the ratio, as their slack is unknown, and cap the limit, as do
// stale failures.
//
// A backend's measured closes are kept for TTL each, eight at most: when
// a ninth comes the oldest goes, unless it is the smallest. A close
// shorter than the others is kept like any other: it may be a restart
// that closed the one pooled connection, which costs dials for TTL, or
// an instance behind a load balancer that closes sooner than the others,
// which would fail requests if it were forgotten. Closes that lie more
// than 50 ms apart turn the margin off for TTL, so that a server that
// closes at varying times does not get it by chance when three of its
// closes happen to agree. A stale-shaped failure after at least half the
// smallest close counts as a close, and turns the margin off for TTL:
// the backend closes sooner than its measured closes showed. An
// advertised timeout more than a second and 250 ms below the smallest
// close (no server closes that long after what it advertises) caps the
// limit again: the backend, or one instance of it, was reconfigured.
//
// # Round trip
//
// A request sent at the limit reaches the backend a round trip later on
// the backend's own idle clock, which started as the response left it.
// The Tracker estimates each backend's round trip from how long its
// connections took to establish ([Tracker.ObserveConnect]), as TCP
// estimates its retransmission timeout (RFC 6298): the smoothed time plus
// four times its variation; a first connect counts three times its
// length. Every limit leaves it to spare.
//
// # Feeding a Tracker
//
// The Transport of package
// github.com/resilient-http/resilient/transport feeds its Tracker from
// every HTTP/1 connection it dials; that is all most users need. The
// Observe methods are exported for a caller who shares a Tracker between
// that Transport and a client of their own (another http.Transport, a
// proxy), and feeds it from that client, with the same facts, so that
// both learn from each other's connections.
//
// # Bounded state
//
// A Tracker forgets a backend that has seen no request for TTL, and
// remembers at most [Tracker.MaxBackends] backends, forgetting the least
// recently used first; limits set with [Tracker.Configure] are kept.
package idle
