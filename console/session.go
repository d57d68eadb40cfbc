package console

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Sessions are stateless: the cookie holds a random session ID (16 bytes
// from crypto/rand) and an expiry, signed with HMAC-SHA256 under a key
// derived from the API key. They survive restarts and work across engine
// processes that share the API key; changing the API key ends them all.
// The CSRF token of a session is HMAC(key, "csrf" || session ID): it is
// checked on every POST, constant-time.
//
// Logging out clears the cookie and remembers the session ID as ended, in
// this process, until it would have expired anyway.
const (
	sessionCookie = "autodebit_session"
	loginCookie   = "autodebit_login" // the login form's own CSRF value
	sidLen        = 16
)

type session struct {
	id      []byte
	expires time.Time
}

type sessions struct {
	key []byte
	ttl time.Duration
	now func() time.Time

	mu    sync.Mutex
	ended map[string]time.Time // session ID → its expiry
}

func newSessions(apiKey string, ttl time.Duration, now func() time.Time) *sessions {
	m := hmac.New(sha256.New, []byte(apiKey))
	m.Write([]byte("autodebit console session key v1"))
	return &sessions{key: m.Sum(nil), ttl: ttl, now: now, ended: map[string]time.Time{}}
}

func (s *sessions) mac(parts ...[]byte) []byte {
	m := hmac.New(sha256.New, s.key)
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}

// start makes a new session and sets its cookie.
func (s *sessions) start(w http.ResponseWriter, r *http.Request) {
	payload := make([]byte, sidLen+8)
	rand.Read(payload[:sidLen])
	exp := s.now().Add(s.ttl)
	binary.BigEndian.PutUint64(payload[sidLen:], uint64(exp.Unix()))
	value := b64(payload) + "." + b64(s.mac([]byte("session"), payload))
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: value, Path: "/", Expires: exp, MaxAge: int(s.ttl.Seconds()),
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: isHTTPS(r),
	})
}

// read returns the request's session if its cookie is genuine, unexpired
// and not logged out.
func (s *sessions) read(r *http.Request) (session, bool) {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return session{}, false
	}
	p, sig, ok := strings.Cut(c.Value, ".")
	if !ok {
		return session{}, false
	}
	payload, err1 := base64.RawURLEncoding.DecodeString(p)
	mac, err2 := base64.RawURLEncoding.DecodeString(sig)
	if err1 != nil || err2 != nil || len(payload) != sidLen+8 || !hmac.Equal(mac, s.mac([]byte("session"), payload)) {
		return session{}, false
	}
	sess := session{id: payload[:sidLen], expires: time.Unix(int64(binary.BigEndian.Uint64(payload[sidLen:])), 0)}
	if !s.now().Before(sess.expires) {
		return session{}, false
	}
	s.mu.Lock()
	_, ended := s.ended[string(sess.id)]
	s.mu.Unlock()
	return sess, !ended
}

// end logs a session out and clears its cookie.
func (s *sessions) end(w http.ResponseWriter, r *http.Request, sess session) {
	now := s.now()
	s.mu.Lock()
	for id, exp := range s.ended {
		if !now.Before(exp) {
			delete(s.ended, id)
		}
	}
	s.ended[string(sess.id)] = sess.expires
	s.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: isHTTPS(r)})
}

func (s *sessions) csrf(sess session) string { return b64(s.mac([]byte("csrf"), sess.id)) }

func (s *sessions) checkCSRF(sess session, token string) bool {
	return token != "" && subtle.ConstantTimeCompare([]byte(token), []byte(s.csrf(sess))) == 1
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func isHTTPS(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

type sessionKey struct{}

func withSession(ctx context.Context, s session) context.Context {
	return context.WithValue(ctx, sessionKey{}, s)
}

func sessionFrom(ctx context.Context) (session, bool) {
	s, ok := ctx.Value(sessionKey{}).(session)
	return s, ok
}

// --- login and logout ---

type loginView struct {
	Next    string
	Nonce   string
	Message string
}

func (h *Handler) loginPage(w http.ResponseWriter, r *http.Request) {
	if _, ok := h.sessions.read(r); ok {
		http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	h.renderLogin(w, r, http.StatusOK, "")
}

// renderLogin shows the login form with a fresh login nonce, set both in a
// cookie and in the form (double submit), so that another site cannot log
// a browser in.
func (h *Handler) renderLogin(w http.ResponseWriter, r *http.Request, status int, msg string) {
	// Keep a browser's nonce while it lasts: another tab (or a favicon
	// request redirected here) must not invalidate an open form.
	nonce := ""
	if c, err := r.Cookie(loginCookie); err == nil && len(c.Value) == 22 {
		nonce = c.Value
	} else {
		b := make([]byte, 16)
		rand.Read(b)
		nonce = b64(b)
	}
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: nonce, Path: "/login", MaxAge: 3600, HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: isHTTPS(r)})
	next := r.URL.Query().Get("next")
	if r.Method == http.MethodPost {
		next = r.PostForm.Get("next")
	}
	h.render(w, r, status, "login", "Log in", loginView{Next: safeNext(next), Nonce: nonce, Message: msg})
}

func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		h.renderLogin(w, r, http.StatusBadRequest, "The form could not be read. Try again.")
		return
	}
	c, err := r.Cookie(loginCookie)
	if err != nil || c.Value == "" || subtle.ConstantTimeCompare([]byte(c.Value), []byte(r.PostForm.Get("nonce"))) != 1 {
		h.renderLogin(w, r, http.StatusForbidden, "The login form expired. Enter the API key again.")
		return
	}
	key := strings.TrimSpace(r.PostForm.Get("apiKey"))
	if subtle.ConstantTimeCompare([]byte(key), []byte(h.cfg.APIKey)) != 1 {
		time.Sleep(250 * time.Millisecond) // slow down guessing a little
		msg := "That API key is not right. Use the key `autodebit serve` printed."
		if key == "" {
			msg = "Enter the API key."
		}
		h.renderLogin(w, r, http.StatusUnauthorized, msg)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Path: "/login", MaxAge: -1})
	h.sessions.start(w, r)
	http.Redirect(w, r, safeNext(r.PostForm.Get("next")), http.StatusSeeOther)
}

func (h *Handler) logout(w http.ResponseWriter, r *http.Request) error {
	sess, _ := sessionFrom(r.Context())
	h.sessions.end(w, r, sess)
	return redirect(w, r, "/login?notice=logged-out")
}

// safeNext keeps a post-login redirect on this site.
func safeNext(next string) string {
	u, err := url.Parse(next)
	if next == "" || err != nil || u.IsAbs() || u.Host != "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.Contains(next, `\`) {
		return "/charges"
	}
	return next
}
