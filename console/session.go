package console

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/autodebit/autodebit"
	adhttp "github.com/autodebit/autodebit/http"
)

// Sessions live in the database (autodebit.ConsoleSessionStore). The
// cookie holds a random secret (32 bytes from crypto/rand); the store keeps
// only HMAC-SHA256(key, secret), under a key derived from the API key, with
// the session's expiry and, once logged out, when it was revoked. So:
//
//   - a logout holds on every engine process that shares the database, and
//     after a restart; a stolen cookie is dead once its owner logs out;
//   - a copy of the database lets no one in (it has no secret);
//   - changing the API key ends every session: the hashes no longer match.
//
// Expired sessions are deleted at each login. The CSRF token of a session is
// HMAC(key, "csrf" || secret): it is checked on every POST, constant-time.
const (
	sessionCookie = "autodebit_session"
	loginCookie   = "autodebit_login" // the login form's own CSRF value
	secretLen     = 32
)

type session struct {
	secret []byte
	hash   string // the store's key of the session
}

type sessions struct {
	key   []byte
	ttl   time.Duration
	now   func() time.Time
	store autodebit.ConsoleSessionStore
	log   *slog.Logger
}

func newSessions(apiKey string, ttl time.Duration, now func() time.Time, store autodebit.ConsoleSessionStore, log *slog.Logger) *sessions {
	m := hmac.New(sha256.New, []byte(apiKey))
	m.Write([]byte("autodebit console session key v1"))
	return &sessions{key: m.Sum(nil), ttl: ttl, now: now, store: store, log: log}
}

func (s *sessions) mac(parts ...[]byte) []byte {
	m := hmac.New(sha256.New, s.key)
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}

func (s *sessions) hash(secret []byte) string {
	return hex.EncodeToString(s.mac([]byte("session"), secret))
}

// start stores a new session and sets its cookie. It first deletes the
// sessions that have expired, so that the table holds only the logins of
// the last TTL.
func (s *sessions) start(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	now := s.now()
	if n, err := s.store.DeleteExpiredConsoleSessions(ctx, now); err != nil {
		s.log.Warn("console: delete expired sessions", "err", err)
	} else if n > 0 {
		s.log.Debug("console: deleted expired sessions", "count", n)
	}
	secret := make([]byte, secretLen)
	rand.Read(secret)
	exp := now.Add(s.ttl)
	if err := s.store.CreateConsoleSession(ctx, &autodebit.ConsoleSession{SecretHash: s.hash(secret), CreatedAt: now, ExpiresAt: exp}); err != nil {
		return fmt.Errorf("start console session: %w", err)
	}
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: b64(secret), Path: "/", Expires: exp, MaxAge: int(s.ttl.Seconds()),
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: isHTTPS(r),
	})
	return nil
}

// read returns the request's session if its cookie names a stored session
// that is neither expired nor logged out. An error means the store could
// not be read.
func (s *sessions) read(r *http.Request) (session, bool, error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return session{}, false, nil
	}
	secret, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err != nil || len(secret) != secretLen {
		return session{}, false, nil
	}
	sess := session{secret: secret, hash: s.hash(secret)}
	stored, err := s.store.FindConsoleSession(r.Context(), sess.hash)
	if autodebit.ErrorCode(err) == autodebit.ENOTFOUND {
		return session{}, false, nil
	} else if err != nil {
		return session{}, false, fmt.Errorf("read console session: %w", err)
	}
	return sess, stored.Active(s.now()), nil
}

// end logs a session out in the store, then clears its cookie. A session
// the store no longer has is ended already.
func (s *sessions) end(w http.ResponseWriter, r *http.Request, sess session) error {
	if err := s.store.RevokeConsoleSession(r.Context(), sess.hash); err != nil && autodebit.ErrorCode(err) != autodebit.ENOTFOUND {
		return fmt.Errorf("end console session: %w", err)
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: isHTTPS(r)})
	return nil
}

func (s *sessions) csrf(sess session) string { return b64(s.mac([]byte("csrf"), sess.secret)) }

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
	_, ok, err := h.sessions.read(r)
	if err != nil {
		h.log.Error("console login page", "err", err)
	}
	if ok {
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
	// An address that sent too many wrong keys is refused before its key
	// is looked at, so that guessing costs time.
	if wait, refused := h.limiter.Check(r, adhttp.SurfaceConsole); refused {
		w.Header().Set("Retry-After", adhttp.RetryAfterSeconds(wait))
		h.renderLogin(w, r, http.StatusTooManyRequests, fmt.Sprintf(
			"Too many wrong API keys were sent from your address. Wait %s seconds, then try again.", adhttp.RetryAfterSeconds(wait)))
		return
	}
	key := strings.TrimSpace(r.PostForm.Get("apiKey"))
	if subtle.ConstantTimeCompare([]byte(key), []byte(h.cfg.APIKey)) != 1 {
		msg := "That API key is not right. Use the key `autodebit serve` printed."
		if key == "" {
			msg = "Enter the API key."
		} else {
			h.limiter.Fail(r, adhttp.SurfaceConsole)
		}
		h.renderLogin(w, r, http.StatusUnauthorized, msg)
		return
	}
	if err := h.sessions.start(w, r); err != nil {
		h.log.Error("console login", "err", err)
		h.renderLogin(w, r, http.StatusServiceUnavailable, "The session could not be saved, so you are not logged in. Try again in a moment.")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Path: "/login", MaxAge: -1})
	http.Redirect(w, r, safeNext(r.PostForm.Get("next")), http.StatusSeeOther)
}

// logout revokes the session in the store, so that its cookie is refused
// everywhere from now on, even if a copy of it was taken.
func (h *Handler) logout(w http.ResponseWriter, r *http.Request) error {
	sess, _ := sessionFrom(r.Context())
	if err := h.sessions.end(w, r, sess); err != nil {
		return err
	}
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
