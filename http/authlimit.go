package http

import (
	"container/list"
	"log/slog"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Surfaces an AuthLimiter counts failures on.
const (
	SurfaceAPI     = "api"     // the API key as a bearer token on /v1 and /metrics
	SurfaceConsole = "console" // the console's login form
)

// Results of a failed authentication, as AuthLimitConfig.CountFunc gets them.
const (
	AuthRejected = "rejected" // the credential was checked and is wrong
	AuthLimited  = "limited"  // refused unchecked: the address has failed too often
)

// AuthLimitConfig configures an AuthLimiter. The zero value is usable.
type AuthLimitConfig struct {
	// Burst is how many failed authentications one client address may make
	// within Window; the next attempt is refused until the oldest of them
	// is Window old. Zero means 10.
	Burst int
	// Window is the sliding window over which failures count. Zero means a
	// minute.
	Window time.Duration
	// MaxClients bounds the addresses remembered; past it the one that
	// failed least recently is forgotten. Zero means 10000.
	MaxClients int
	// TrustForwardedFor takes the client address from the last entry of
	// X-Forwarded-For, as a reverse proxy in front of the engine appends it.
	// Leave it off unless such a proxy sets the header on every request:
	// otherwise a client chooses its own address. Off, the address is the
	// connection's.
	TrustForwardedFor bool
	// CountFunc, when set, counts every failure by surface (SurfaceAPI,
	// SurfaceConsole) and result (AuthRejected, AuthLimited).
	CountFunc func(surface, result string)
	// NowFunc returns the current time. Nil means time.Now.
	NowFunc func() time.Time
	// Logger receives one warning per burst of refusals per address. Nil
	// means slog.Default().
	Logger *slog.Logger
}

// AuthLimiter limits failed authentications per client address over a
// sliding window: an address that failed Burst times within Window is
// refused (HTTP 429), whatever credential it sends, until the oldest of
// those failures is Window old, so that guessing a key costs time. A
// correct credential from an address that is not refused works as usual
// and costs nothing.
//
// IPv6 addresses are grouped by /64, which one client usually holds whole.
// Memory is bounded by MaxClients addresses of Burst times each. An
// AuthLimiter is safe for concurrent use; create it with NewAuthLimiter.
type AuthLimiter struct {
	cfg AuthLimitConfig
	now func() time.Time
	log *slog.Logger

	mu      sync.Mutex
	clients map[string]*list.Element // of *authClient
	lru     list.List                // most recently failed first
}

type authClient struct {
	addr     string
	times    []time.Time // the latest failures within Window, oldest first; at most Burst
	failures int         // failures since the address last had none within Window
	warned   bool        // the refusals of this burst have been logged
}

// NewAuthLimiter returns a limiter with cfg's defaults filled in.
func NewAuthLimiter(cfg AuthLimitConfig) *AuthLimiter {
	if cfg.Burst <= 0 {
		cfg.Burst = 10
	}
	if cfg.Window <= 0 {
		cfg.Window = time.Minute
	}
	if cfg.MaxClients <= 0 {
		cfg.MaxClients = 10000
	}
	l := &AuthLimiter{cfg: cfg, now: cfg.NowFunc, log: cfg.Logger, clients: map[string]*list.Element{}}
	if l.now == nil {
		l.now = time.Now
	}
	if l.log == nil {
		l.log = slog.Default()
	}
	return l
}

// ClientAddr returns the address r is limited under: the connection's IP
// (or the last X-Forwarded-For entry with TrustForwardedFor), an IPv6
// address as its /64.
func (l *AuthLimiter) ClientAddr(r *http.Request) string {
	if l.cfg.TrustForwardedFor {
		if fwd := r.Header.Values("X-Forwarded-For"); len(fwd) > 0 {
			last := fwd[len(fwd)-1]
			if i := strings.LastIndexByte(last, ','); i >= 0 {
				last = last[i+1:]
			}
			if ip := net.ParseIP(strings.TrimSpace(last)); ip != nil {
				return groupIP(ip)
			}
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if ip := net.ParseIP(host); ip != nil {
		return groupIP(ip)
	}
	return host
}

func groupIP(ip net.IP) string {
	if v4 := ip.To4(); v4 != nil {
		return v4.String()
	}
	return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
}

// Check reports whether r's address is refused, and then how long until it
// may try again. Call it before checking a credential; a refused request
// must not be checked. The refusal is counted, and the first of a burst is
// logged.
func (l *AuthLimiter) Check(r *http.Request, surface string) (retryAfter time.Duration, refused bool) {
	addr := l.ClientAddr(r)
	now := l.now()
	l.mu.Lock()
	l.prune(now)
	e := l.clients[addr]
	if e == nil {
		l.mu.Unlock()
		return 0, false
	}
	c := e.Value.(*authClient)
	l.expire(c, now)
	if len(c.times) < l.cfg.Burst {
		l.mu.Unlock()
		return 0, false
	}
	retryAfter = c.times[0].Add(l.cfg.Window).Sub(now)
	warn, failures := !c.warned, c.failures
	c.warned = true
	l.mu.Unlock()

	l.count(surface, AuthLimited)
	if warn {
		l.log.Warn("too many failed authentications; refusing this address for a while",
			"surface", surface, "client", addr, "failures", failures, "retryAfter", retryAfter.Round(time.Second).String())
	}
	return retryAfter, true
}

// Fail records a failed authentication from r's address and counts it.
func (l *AuthLimiter) Fail(r *http.Request, surface string) {
	addr := l.ClientAddr(r)
	now := l.now()
	l.mu.Lock()
	l.prune(now)
	e := l.clients[addr]
	if e == nil {
		if l.lru.Len() >= l.cfg.MaxClients {
			l.remove(l.lru.Back())
		}
		e = l.lru.PushFront(&authClient{addr: addr, times: make([]time.Time, 0, l.cfg.Burst)})
		l.clients[addr] = e
	} else {
		l.lru.MoveToFront(e)
	}
	c := e.Value.(*authClient)
	l.expire(c, now)
	if len(c.times) == l.cfg.Burst {
		c.times = append(c.times[:0], c.times[1:]...)
	}
	c.times = append(c.times, now)
	c.failures++
	l.mu.Unlock()
	l.count(surface, AuthRejected)
}

// RetryAfterSeconds is retryAfter as a Retry-After header value: whole
// seconds, at least 1.
func RetryAfterSeconds(retryAfter time.Duration) string {
	return strconv.Itoa(max(1, int(math.Ceil(retryAfter.Seconds()))))
}

// expire drops c's failures that are Window old; with none left, the burst
// is over.
func (l *AuthLimiter) expire(c *authClient, now time.Time) {
	n := 0
	for n < len(c.times) && !now.Before(c.times[n].Add(l.cfg.Window)) {
		n++
	}
	if n > 0 {
		c.times = append(c.times[:0], c.times[n:]...)
	}
	if len(c.times) == 0 {
		c.failures, c.warned = 0, false
	}
}

// prune forgets a few of the least recently failed addresses whose
// failures are all Window old: remembering them changes nothing.
func (l *AuthLimiter) prune(now time.Time) {
	for range 2 {
		e := l.lru.Back()
		if e == nil {
			return
		}
		c := e.Value.(*authClient)
		if len(c.times) > 0 && now.Before(c.times[len(c.times)-1].Add(l.cfg.Window)) {
			return
		}
		l.remove(e)
	}
}

func (l *AuthLimiter) remove(e *list.Element) {
	delete(l.clients, e.Value.(*authClient).addr)
	l.lru.Remove(e)
}

// Len returns the number of addresses remembered.
func (l *AuthLimiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lru.Len()
}

func (l *AuthLimiter) count(surface, result string) {
	if l.cfg.CountFunc != nil {
		l.cfg.CountFunc(surface, result)
	}
}
