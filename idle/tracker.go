package idle

import (
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of a Tracker.
const (
	DefaultRatio   = 0.8
	DefaultFloor   = 50 * time.Millisecond
	DefaultCeiling = 10 * time.Minute
	DefaultTTL     = 10 * time.Minute
	// DefaultMaxBackends caps the backends a Tracker remembers: about
	// 700 bytes each with the key, so about 3 MB at most
	// (TestTrackerStaysWithinMaxBackends measures it).
	DefaultMaxBackends = 4096
)

// underSecondLimit is the limit of a backend that advertised timeout=0 (a
// setting under a second) until a close it was seen to make sizes it: the
// advertisement gives no lower bound, so only a short limit is safe.
const underSecondLimit = DefaultFloor

// Limit is the effective idle limit of a backend. A zero Timeout means no
// limit is known.
type Limit struct {
	Timeout time.Duration
	// MaxRequests is the max=N the backend last advertised in Keep-Alive,
	// zero if none: the requests left on the connection that carried that
	// response (Apache counts them down), so it describes that connection
	// more than the backend. An answer to an ask without the header
	// clears it, and it expires TTL after the backend's last answer. It is
	// information only: no connection is closed to enforce it, since
	// net/http may be handing the connection to a waiting request at that
	// moment, and servers that count requests send Connection: close with
	// the last one, which net/http honours.
	MaxRequests int
	Source      Source
}

// Tracker keeps the idle limit of each backend, keyed by
// "scheme://host:port" (see [Key]), from what its Observe methods are told
// (see the package doc for the rules). Its methods are safe for concurrent
// use. [Tracker.Limit], [Tracker.AskKeepAlive], [Tracker.ObserveReuse] and
// [Tracker.ObserveKeepAlive] do not allocate once a backend is known and
// its header has not changed: they run on every request.
//
// A Tracker remembers at most MaxBackends backends, and forgets a backend
// that has seen no request for TTL (checked as new backends come, at most
// once a TTL, and by [Tracker.Range]); the limits set with
// [Tracker.Configure] are kept regardless.
//
// Create it with [NewTracker]. Its settings are the exported fields: set
// them before first use, and not afterwards. The Tracker never writes them.
type Tracker struct {
	// Ratio scales the smallest configured or advertised timeout (and
	// stale failure, and measured close until three agree with each other),
	// so the client closes first; measured closes that agree get a margin
	// instead (see the package doc). Values outside (0, 1] mean
	// DefaultRatio.
	Ratio float64
	// Floor and Ceiling clamp the effective limit; a zero Ceiling means
	// none.
	Floor, Ceiling time.Duration
	// TTL is how long an observation lowers a limit, and how long a
	// backend that sees no request is remembered. Zero or less means
	// DefaultTTL.
	TTL time.Duration
	// Configured applies to every backend without a per-host setting.
	Configured time.Duration
	// MaxBackends caps the backends remembered; beyond it the least
	// recently used are forgotten. Zero or less means DefaultMaxBackends.
	MaxBackends int

	now func() time.Time // nil: time.Now; replaced by tests

	mu       sync.RWMutex
	backends map[string]*backend
	hosts    map[string]time.Duration // Configure's, never forgotten
	swept    time.Time                // when backends dead for TTL were last forgotten
}

type backend struct {
	// Written under the read lock, so that the hot path does not take
	// the write lock.
	used     atomic.Int64 // UnixNano of the last request seen
	answered atomic.Int64 // UnixNano of the last Keep-Alive answer; zero: none yet

	advertised  KeepAlive
	rawHeader   string   // the last header, when it had one value
	measures    measures // closes of idle connections the backend was seen to make
	closes      closes
	reuse       observation // the longest idle a reused connection survived
	rtt         roundTrip   // the round trip, from connect times
	stale       stale
	effective   Limit
	effectiveAt time.Time // when the effective limit stops being valid; zero: never
}

// NewTracker returns a Tracker with the default settings.
func NewTracker() *Tracker {
	return &Tracker{
		Ratio:       DefaultRatio,
		Floor:       DefaultFloor,
		Ceiling:     DefaultCeiling,
		TTL:         DefaultTTL,
		MaxBackends: DefaultMaxBackends,
	}
}

// Configure sets the configured idle timeout of one backend, overriding
// Configured for it; zero or less removes the setting.
func (t *Tracker) Configure(key string, d time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if d <= 0 {
		delete(t.hosts, key)
	} else {
		if t.hosts == nil {
			t.hosts = map[string]time.Duration{}
		}
		t.hosts[key] = d
	}
	if b := t.backends[key]; b != nil {
		t.refreshLocked(key, b, t.clock())
	}
}

// Limit returns the effective idle limit of the backend key. It counts as
// a request to the backend, which is remembered from then on.
func (t *Tracker) Limit(key string) Limit { return t.limit(key, true) }

func (t *Tracker) limit(key string, touch bool) Limit {
	now := t.clock()
	t.mu.RLock()
	b := t.backends[key]
	if b == nil && !touch {
		var unknown backend
		l := t.compute(&unknown, t.hosts[key])
		t.mu.RUnlock()
		return l
	}
	if b == nil {
		// A request to a new backend: remember it, so that Range reports
		// it, and learn from its responses.
		t.mu.RUnlock()
		t.update(key, now, true, func(*backend) {})
		return t.limit(key, false)
	}
	if touch {
		b.used.Store(now.UnixNano())
	}
	l, valid := b.effective, b.effectiveAt.IsZero() || now.Before(b.effectiveAt)
	t.mu.RUnlock()
	if valid {
		return l
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.refreshLocked(key, b, now)
	return b.effective
}

// AskKeepAlive reports whether a request to the backend key should ask for
// its Keep-Alive advertisement with a Connection: keep-alive header, as
// Apache httpd advertises only to requests that ask: while nothing is
// known of the backend's advertisement, and once a minute after its last
// answer, so that a changed or withdrawn advertisement is seen. It counts
// as a request to the backend.
func (t *Tracker) AskKeepAlive(key string) bool {
	now := t.clock().UnixNano()
	var answered int64
	t.mu.RLock()
	if b := t.backends[key]; b != nil {
		b.used.Store(now)
		answered = b.answered.Load()
	}
	t.mu.RUnlock()
	return answered == 0 || now-answered >= int64(advertisementRefresh)
}

// advertisementRefresh is how long after a backend's last answer
// AskKeepAlive asks again.
const advertisementRefresh = time.Minute

// update runs f on the backend key, remembered from now on, and computes
// its limit again. touch counts it as a request.
func (t *Tracker) update(key string, now time.Time, touch bool, f func(*backend)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.backends[key]
	if b == nil {
		b = t.insertLocked(key, now)
	}
	if touch {
		b.used.Store(now.UnixNano())
	}
	b.expire(now, t.ttl()) // so that f sees only what holds
	f(b)
	t.refreshLocked(key, b, now)
}

// refreshLocked forgets what expired and computes b's limit again.
func (t *Tracker) refreshLocked(key string, b *backend, now time.Time) {
	b.effectiveAt = b.expire(now, t.ttl())
	b.effective = t.compute(b, t.hosts[key])
}

// expire forgets b's expired observations and returns when the next one
// expires; zero: none will.
func (b *backend) expire(now time.Time, ttl time.Duration) (next time.Time) {
	for _, exp := range [...]time.Time{
		b.measures.expire(now, ttl),
		b.reuse.expire(now, ttl),
		b.stale.confirmed.expire(now, ttl),
		b.stale.first.expire(now, confirmWindow),
		b.expireMax(now, ttl),
	} {
		if !exp.IsZero() && (next.IsZero() || exp.Before(next)) {
			next = exp
		}
	}
	return next
}

// compute applies the rules of the package doc to what b holds; configured
// is the backend's own setting, zero if none.
func (t *Tracker) compute(b *backend, configured time.Duration) Limit {
	l := Limit{MaxRequests: b.advertised.MaxRequests}
	pick := func(d time.Duration, s Source) {
		if d > 0 && (l.Timeout == 0 || d < l.Timeout) {
			l.Timeout, l.Source = d, s
		}
	}
	if configured == 0 {
		configured = t.Configured
	}
	pick(configured, SourceConfigured)
	// An advertised timeout is a lower bound on the backend's real close
	// (see the package doc); a close the backend was seen to make of an
	// idle connection, watched or pooled, measured the real one: it
	// replaces the advertised timeout, with its own margin below.
	measured := b.measures.lo().d
	adv := b.advertised.Timeout
	if adv > 0 && measured > adv && measured-adv < stallAllowance {
		// As likely a server that closes on time, measured late by a
		// stalled client, as one that closes a little late: the
		// advertised timeout is the close.
		measured = adv
	}
	if measured == 0 || measured-adv > advertisedLag+stallAllowance {
		// Nothing measured; or closes later than any server closes
		// after what it advertises: the backend, or one instance of
		// it, now advertises a shorter timeout than it closed at.
		pick(adv, SourceAdvertised)
	}
	// timeout=0 says "under a second", no lower bound: until a close
	// sizes it, only a short limit is safe.
	underSecond := b.advertised.HasTimeout && b.advertised.Timeout == 0 && measured == 0
	pick(b.stale.confirmed.d, SourceObserved)
	first := b.stale.first.d
	if first > 0 && !t.contradicts(b, first) {
		pick(first, SourceObserved)
	}
	rtt := b.rtt.margin()
	if l.Timeout > 0 {
		l.Timeout = t.scaled(l.Timeout, rtt)
	}
	if measured > 0 {
		m := t.scaled(measured, rtt)
		if spread, ok := b.measures.agree(); ok {
			// Under the margin, the shortest limit there is: Floor.
			m = max(measured-closeMargin(measured)-spread-rtt, time.Nanosecond)
		}
		if l.Timeout == 0 || m < l.Timeout {
			l.Timeout, l.Source = m, SourceObserved
		}
	}
	if first > 0 && t.beyondReuses(b, first) && (l.Timeout == 0 || b.reuse.d < l.Timeout) {
		// One failure past every reuse that worked, too close to them to
		// apply with the margin: the backend may close just past them, or
		// that was a stray reset. Reusing a margin short of the longest
		// reuse that worked is safe either way (a reuse at its very length
		// arrives as late as that one did, with none of the round trip to
		// spare), and costs a stray little.
		l.Timeout, l.Source = max(b.reuse.d-closeMargin(b.reuse.d), time.Nanosecond), SourceObserved
	}
	if underSecond && (l.Timeout == 0 || underSecondLimit < l.Timeout) {
		l.Timeout, l.Source = underSecondLimit, SourceAdvertised
	}
	if l.Timeout == 0 {
		return l
	}
	l.Timeout = max(l.Timeout, t.Floor)
	if t.Ceiling > 0 {
		l.Timeout = min(l.Timeout, t.Ceiling)
	}
	return l
}

// contradicts reports whether an unconfirmed stale bound d is far below
// what b's other evidence says, so that it needs a second failure before
// it applies: the limit it sets would stop reuses that have been seen to
// succeed, or d is under the advertised timeout, or under half the idle
// time after which the backend was seen to close a connection.
func (t *Tracker) contradicts(b *backend, d time.Duration) bool {
	return t.ratioOf(d) < b.reuse.d || t.contradictsOthers(b, d)
}

// contradictsOthers is contradicts without the reuses.
func (t *Tracker) contradictsOthers(b *backend, d time.Duration) bool {
	return d < b.advertised.Timeout || d < b.measures.lo().d/2
}

// beyondReuses reports whether an unconfirmed stale bound d lies past
// every reuse that worked but too close to them for its limit to apply:
// consistent with an idle timeout between the two, and with a stray reset.
// A failure less than closeAgreement past the longest reuse lies within
// the spread of the reuses themselves (requests sent every 100 ms reuse
// their connections after 100 ms give or take a few): it says no more than
// they do, and caps nothing, as a stray reset among such requests would
// otherwise cost a dial per request for a minute.
func (t *Tracker) beyondReuses(b *backend, d time.Duration) bool {
	return b.reuse.d > 0 && d > b.reuse.d+closeAgreement && t.ratioOf(d) < b.reuse.d && !t.contradictsOthers(b, d)
}

// closeMargin is how far below a measured close (watched, or of a pooled
// connection, see the package doc) the limit stays once the closes agree
// (see closeAgreement), the spread of the closes and the round trip
// aside (compute subtracts both). The close is a fact, so the margin is
// sized for what can still go wrong on the client's side rather than as a
// ratio: the client's timer firing late and its goroutines running late
// under load (scheduling, GC pauses on a busy 2-core machine), 50 ms in
// all, plus a 64th of the close (1.6 %) for servers whose idle timers are
// coarser at long timeouts. The close was measured from when the client
// released the connection, after the backend's own idle clock had
// started, so the measure errs short, and the smallest close kept wins.
func closeMargin(d time.Duration) time.Duration {
	return 50*time.Millisecond + d/64
}

// stallAllowance is how late a client stalled by load can measure a
// close: a goroutine that waits for the backend's FIN runs only when the
// runtime schedules it, and a container throttled by its CPU quota stops
// for up to a period of 100 ms. A close measured less than this past the
// advertised timeout is taken to be at the advertised timeout.
const stallAllowance = 250 * time.Millisecond

// advertisedLag is how long after its advertised timeout a server may
// close: Node.js closes a second after it.
const advertisedLag = time.Second

// closeAgreement is how far apart a backend's measured closes may lie for
// the margin to apply: a server that closes on time closes within a few
// milliseconds of its setting (TestServersCloseOnTime), while one that
// sweeps its idle connections now and then (once a second, say) closes
// anywhere in the sweep's period after it, and one close tells nothing of
// the next.
const closeAgreement = 50 * time.Millisecond

func (t *Tracker) ratioOf(d time.Duration) time.Duration {
	return time.Duration(float64(d) * t.ratio())
}

// scaled is the limit that a bound d on the backend's idle timeout allows,
// rtt being the backend's round trip (see roundTrip.margin): d scaled by
// the Ratio, or less the round trip when that is shorter, as a request
// sent at the limit reaches the backend a round trip later on the
// backend's own clock.
func (t *Tracker) scaled(d, rtt time.Duration) time.Duration {
	// Never zero, which would mean no limit: Floor makes it one.
	return max(min(t.ratioOf(d), d-rtt), time.Nanosecond)
}

func (t *Tracker) ratio() float64 {
	if t.Ratio > 0 && t.Ratio <= 1 {
		return t.Ratio
	}
	return DefaultRatio
}

func (t *Tracker) ttl() time.Duration {
	if t.TTL > 0 {
		return t.TTL
	}
	return DefaultTTL
}

func (t *Tracker) clock() time.Time {
	if t.now != nil {
		return t.now()
	}
	return time.Now()
}
