package antomsim

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"net"
	"net/http"
	"strings"
)

// The simulator hands out access tokens and takes unsigned control
// requests, so every request passes two checks before any route runs (see
// guard), and the control API and the home page's list of QR codes need
// Config.ControlSecret (see controlAccess). The wallet page at a QR URL and
// Antom's API stay open: the QR code, a 128-bit random value, is the
// buyer's capability, and the API has its own signatures.

// minControlSecret is the shortest Config.ControlSecret accepted.
const minControlSecret = 16

// controlCookie is the cookie the home page sets after a correct ?key=, so
// that a browser can list QR codes and follow the read-only control links.
const controlCookie = "antomsim_control"

// NewControlSecret returns a fresh random control secret: "simk_" and 32
// bytes from crypto/rand, URL-safe base64.
func NewControlSecret() string {
	b := make([]byte, 32)
	rand.Read(b)
	return "simk_" + base64.RawURLEncoding.EncodeToString(b)
}

// newQRCode returns a consult's QR code. It comes from crypto/rand, not the
// seeded generator: whoever knows a QR code can approve the link to their own
// account, so it must not be guessable from the seed or from other IDs.
func newQRCode() string {
	b := make([]byte, 16)
	rand.Read(b)
	return strings.ToUpper(hex.EncodeToString(b))
}

// guard wraps next with the checks every request passes:
//
//   - the Host header must name the simulator: a loopback name, BaseURL's
//     host or one of Config.AllowedHosts. A web page whose own name was
//     rebound to 127.0.0.1 (DNS rebinding) sends its own name and is refused
//     with 403.
//   - a browser's POST, PUT, PATCH or DELETE must come from the simulator's
//     own origin (http.CrossOriginProtection: Sec-Fetch-Site, else Origin
//     against Host). A cross-site form that approves a QR code or sets
//     faults is refused with 403. The wallet page's own form is same-origin;
//     the engine's API calls carry neither header.
func (s *Sim) guard(next http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSONError(w, http.StatusForbidden, "cross-origin "+r.Method+" refused: the simulator accepts state changes only from its own pages or from clients that send no Origin header")
	}))
	inner := cop.Handler(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.hostAllowed(r.Host) {
			writeJSONError(w, http.StatusForbidden, "Host "+quoteHost(r.Host)+" is not this simulator's name: use 127.0.0.1, localhost or [::1], or add the name to antomsim.Config.AllowedHosts (autodebit sim --public-url)")
			return
		}
		inner.ServeHTTP(w, r)
	})
}

func quoteHost(h string) string {
	if h == "" {
		return "(empty)"
	}
	return `"` + h + `"`
}

// hostNames returns the host names the Host header may carry besides the
// loopback ones, lower case.
func hostNames(cfg Config) map[string]bool {
	names := map[string]bool{}
	for _, h := range cfg.AllowedHosts {
		names[normalizeHost(h)] = true
	}
	if cfg.BaseURL != "" {
		rest := cfg.BaseURL[strings.Index(cfg.BaseURL, "://")+3:]
		if i := strings.IndexAny(rest, "/?#"); i >= 0 {
			rest = rest[:i]
		}
		names[normalizeHost(rest)] = true
	}
	delete(names, "")
	return names
}

// normalizeHost returns the host name of a Host header value (host or
// host:port, IPv6 in brackets) in lower case, without a trailing dot.
func normalizeHost(hostport string) string {
	h := hostport
	if host, _, err := net.SplitHostPort(hostport); err == nil {
		h = host
	}
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	return strings.TrimSuffix(strings.ToLower(h), ".")
}

func (s *Sim) hostAllowed(hostport string) bool {
	h := normalizeHost(hostport)
	if h == "localhost" {
		return true
	}
	if ip := net.ParseIP(h); ip != nil && ip.IsLoopback() {
		return true
	}
	return h != "" && s.hosts[h]
}

// controlAccess reports whether r may use the control API, and if not, a
// sentence saying what is missing. With no Config.ControlSecret everything
// is allowed. Otherwise the request needs "Authorization: Bearer SECRET";
// a GET or HEAD may instead carry the home page's cookie (a browser
// following the home page's links), which can never change anything.
func (s *Sim) controlAccess(r *http.Request) (ok bool, why string) {
	if s.cfg.ControlSecret == "" {
		return true, ""
	}
	if h := r.Header.Get("Authorization"); h != "" {
		key, found := strings.CutPrefix(h, "Bearer ")
		if !found {
			return false, `the Authorization header must be "Bearer <control key>"`
		}
		if !s.secretMatches(strings.TrimSpace(key)) {
			return false, "the control key in the Authorization header is not this simulator's"
		}
		return true, ""
	}
	if s.cookieMatches(r) {
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			return true, ""
		}
		return false, r.Method + ` needs the header "Authorization: Bearer <control key>"; the home page's cookie only reads`
	}
	return false, `the control API needs the simulator's control key: send the header "Authorization: Bearer <control key>" (autodebit sim prints the key; serve prints its in-process simulator's)`
}

// secretMatches compares key with the control secret in constant time.
func (s *Sim) secretMatches(key string) bool {
	a, b := sha256.Sum256([]byte(key)), sha256.Sum256([]byte(s.cfg.ControlSecret))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// cookieValue is the home page cookie's value: derived from the secret, so
// a leaked cookie is not the bearer key that can change things.
func (s *Sim) cookieValue() string {
	m := hmac.New(sha256.New, []byte(s.cfg.ControlSecret))
	m.Write([]byte("antomsim home page cookie"))
	return hex.EncodeToString(m.Sum(nil))
}

func (s *Sim) cookieMatches(r *http.Request) bool {
	c, err := r.Cookie(controlCookie)
	if err != nil {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(c.Value), []byte(s.cookieValue())) == 1
}

// setControlCookie remembers a correct ?key= in the browser: HttpOnly,
// SameSite=Strict (never sent by another site's page), Secure over HTTPS.
func (s *Sim) setControlCookie(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: controlCookie, Value: s.cookieValue(), Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
}
