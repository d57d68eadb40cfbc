// Package http serves autodebit over HTTP: the merchant REST API under /v1,
// Antom's notification endpoints under /antom/notify, QR code images, the
// health check and metrics.
package http

import (
	"cmp"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/autodebit/autodebit"
	"github.com/autodebit/autodebit/antom"
	"github.com/autodebit/autodebit/clock"
	"github.com/autodebit/autodebit/engine"
)

// MaxBodyBytes bounds the body of a REST API request.
const MaxBodyBytes = 64 << 10

// Config configures a Server.
type Config struct {
	// Engine runs the flows. Required.
	Engine *engine.Engine
	// Verifier checks Antom's notifications. Required.
	Verifier *antom.NotificationVerifier
	// APIKey is the operator key every /v1 request must present as
	// "Authorization: Bearer <APIKey>". Required.
	APIKey string
	// Logger receives request logs. Nil means slog.Default().
	Logger *slog.Logger
	// Limiter limits failed API keys per client address (SurfaceAPI); share
	// it with the console so that both count against one budget. Nil means
	// a limiter of the server's own with AuthLimitConfig's defaults.
	Limiter *AuthLimiter
	// Metrics is served at /metrics when set.
	Metrics http.Handler
	// Extra, when set, serves every path the server does not (the console).
	Extra http.Handler
	// NowFunc returns the current time, for the limit on log lines about
	// rejected notifications. Nil means time.Now.
	NowFunc func() time.Time
	// Clock, in simulator mode, is the one clock with what falls due on it:
	// GET /v1/clock shows it and POST /v1/clock/advance moves it. Nil (a
	// real Antom) makes both a 404.
	Clock *clock.Stepper
}

// Server is the engine's HTTP handler. It is safe for concurrent use.
type Server struct {
	cfg     Config
	engine  *engine.Engine
	store   autodebit.Store
	log     *slog.Logger
	limiter *AuthLimiter
	mux     *http.ServeMux
	apiMux  *http.ServeMux // the /v1 routes alone, for allowedMethods

	apiPatterns []string // the /v1 routes, for APIRoutes
	openAPIJSON []byte
	rejectLog   *logLimiter // warnings about rejected notifications
}

// NewServer returns the handler.
func NewServer(cfg Config) (*Server, error) {
	if cfg.Engine == nil || cfg.Verifier == nil {
		return nil, errors.New("http: Engine and Verifier are required")
	}
	if cfg.APIKey == "" {
		return nil, errors.New("http: APIKey is required")
	}
	s := &Server{cfg: cfg, engine: cfg.Engine, store: cfg.Engine.Store(), log: cfg.Logger, mux: http.NewServeMux(), apiMux: http.NewServeMux()}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.limiter = cfg.Limiter; s.limiter == nil {
		s.limiter = NewAuthLimiter(AuthLimitConfig{Logger: s.log})
	}
	s.openAPIJSON = mustMarshal(OpenAPI())
	s.rejectLog = newLogLimiter(RejectedLogInterval, cfg.NowFunc)
	s.routes()
	return s, nil
}

func (s *Server) routes() {
	api := func(pattern string, h func(w http.ResponseWriter, r *http.Request) error) {
		s.mux.Handle(pattern, s.authenticated(h))
		s.apiMux.Handle(pattern, http.NotFoundHandler())
		s.apiPatterns = append(s.apiPatterns, pattern)
	}
	api("POST /v1/authorizations", s.createAuthorization)
	api("GET /v1/authorizations", s.listAuthorizations)
	api("GET /v1/authorizations/{id}", s.getAuthorization)
	api("GET /v1/authorizations/{id}/timeline", s.timeline)
	api("GET /v1/tokens", s.listTokens)
	api("GET /v1/tokens/{id}", s.getToken)
	api("DELETE /v1/tokens/{id}", s.revokeToken)
	api("GET /v1/tokens/{id}/timeline", s.timeline)
	api("POST /v1/charges", s.createCharge)
	api("GET /v1/charges", s.listCharges)
	api("GET /v1/charges/{id}", s.getCharge)
	api("GET /v1/charges/{id}/timeline", s.timeline)
	api("POST /v1/charges/{id}/cancel", s.cancelCharge)
	api("POST /v1/charges/{id}/refunds", s.createRefund)
	api("GET /v1/charges/{id}/refunds", s.listChargeRefunds)
	api("GET /v1/refunds/{id}", s.getRefund)
	api("GET /v1/refunds/{id}/timeline", s.timeline)
	api("GET /v1/health", s.health)
	api("GET /v1/events", s.listEvents)
	api("GET /v1/events/{id}", s.getEvent)
	api("GET /v1/events/{id}/deliveries", s.eventDeliveries)
	api("POST /v1/events/{id}/redeliver", s.redeliverEvent)
	api("POST /v1/webhook-endpoints", s.createWebhookEndpoint)
	api("GET /v1/webhook-endpoints", s.listWebhookEndpoints)
	api("GET /v1/webhook-endpoints/{id}", s.getWebhookEndpoint)
	api("PATCH /v1/webhook-endpoints/{id}", s.updateWebhookEndpoint)
	api("DELETE /v1/webhook-endpoints/{id}", s.deleteWebhookEndpoint)
	api("POST /v1/webhook-endpoints/{id}/rotate-secret", s.rotateWebhookEndpointSecret)
	api("GET /v1/webhook-endpoints/{id}/timeline", s.webhookEndpointTimeline)
	api("POST /v1/link-sessions", s.createLinkSession)
	api("GET /v1/link-sessions", s.listLinkSessions)
	api("GET /v1/link-sessions/{id}", s.getLinkSession)
	api("POST /v1/link-sessions/{id}/cancel", s.cancelLinkSession)
	api("GET /v1/link-sessions/{id}/timeline", s.timeline)
	api("GET /v1/clock", s.getClock)
	api("POST /v1/clock/advance", s.advanceClock)
	// Subscriptions (issue 13).
	api("POST /v1/subscriptions", s.createSubscription)
	api("GET /v1/subscriptions", s.listSubscriptions)
	api("GET /v1/subscriptions/{id}", s.getSubscription)
	api("GET /v1/subscriptions/{id}/charges", s.subscriptionCharges)
	api("GET /v1/subscriptions/{id}/timeline", s.timeline)
	api("POST /v1/subscriptions/{id}/pause", s.pauseSubscription)
	api("POST /v1/subscriptions/{id}/resume", s.resumeSubscription)
	api("POST /v1/subscriptions/{id}/cancel", s.cancelSubscription)
	// The catch-all keeps unknown /v1 paths away from Extra and answers them
	// in the API's error shape. It matches every method, so the mux never
	// answers a known path's wrong method with 405 itself: noRoute does.
	s.mux.Handle("/v1/", s.authenticated(s.noRoute))
	s.mux.HandleFunc("GET /openapi.json", s.openAPI)

	s.mux.HandleFunc("POST "+engine.NotifyAuthorizationPath, s.notify(antom.KindAuthorization))
	s.mux.HandleFunc("POST "+engine.NotifyPaymentPath, s.notify(antom.KindPayment))
	s.mux.HandleFunc("POST "+engine.NotifyRefundPath, s.notify(antom.KindRefund))
	s.mux.HandleFunc("GET /qr/{file}", s.qrImage)
	s.mux.HandleFunc("GET /healthz", s.healthz)
	if s.cfg.Metrics != nil {
		// Business volumes and scrape-time queries: not for the internet
		// that must reach the notification receivers. Prometheus sends the
		// key with bearer_token.
		metrics := s.cfg.Metrics
		s.mux.Handle("GET /metrics", s.authenticated(func(w http.ResponseWriter, r *http.Request) error {
			metrics.ServeHTTP(w, r)
			return nil
		}))
	}
	if s.cfg.Extra != nil {
		s.mux.Handle("/", s.cfg.Extra)
	}
}

// noRoute answers a /v1 request no route took: 405 with Allow when the
// path takes other methods, else 404.
func (s *Server) noRoute(w http.ResponseWriter, r *http.Request) error {
	if allow := s.allowedMethods(r); len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		// HEAD comes with every GET: the header says so, the sentence need not.
		named := slices.DeleteFunc(slices.Clone(allow), func(m string) bool { return m == http.MethodHead })
		return autodebit.Errorf(codeMethodNotAllowed, "Path %s takes %s, not %s.", r.URL.Path, orList(named), r.Method)
	}
	return autodebit.Errorf(autodebit.ENOTFOUND, "No API route %s %s.", r.Method, r.URL.Path)
}

// apiMethods are the methods allowedMethods tries.
var apiMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// allowedMethods returns the methods a /v1 route takes at r's path.
func (s *Server) allowedMethods(r *http.Request) []string {
	var allow []string
	for _, m := range apiMethods {
		probe := r.WithContext(r.Context())
		probe.Method = m
		if _, pattern := s.apiMux.Handler(probe); pattern != "" {
			allow = append(allow, m)
		}
	}
	return allow
}

// orList joins words as "A", "A or B", "A, B or C".
func orList(words []string) string {
	if len(words) < 2 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}

// ServeHTTP implements http.Handler. Every response carries the headers
// of setSecurityHeaders.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	setSecurityHeaders(w.Header(), r.URL.Path)
	s.mux.ServeHTTP(w, r)
}

// authenticated checks the API key, bounds the body and turns a handler's
// error into a JSON error response. A request that sends a wrong key counts
// against its address's limit (a request with no Authorization header is
// refused without counting); an address over it gets 429 unchecked.
func (s *Server) authenticated(h func(w http.ResponseWriter, r *http.Request) error) http.Handler {
	want := []byte(s.cfg.APIKey)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		header := r.Header.Get("Authorization")
		if header != "" {
			if wait, refused := s.limiter.Check(r, SurfaceAPI); refused {
				w.Header().Set("Retry-After", RetryAfterSeconds(wait))
				s.writeError(w, r, autodebit.Errorf(autodebit.ERATELIMITED,
					"Too many requests with a wrong API key came from your address; try again in %s seconds.", RetryAfterSeconds(wait)))
				return
			}
		}
		if err := checkKey(header, want); err != nil {
			if header != "" {
				s.limiter.Fail(r, SurfaceAPI)
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="autodebit"`)
			s.writeError(w, r, err)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
		s.log.Debug("api request", "method", r.Method, "path", r.URL.Path, "duration", time.Since(start))
	})
}

// checkKey checks an Authorization header against the API key, with an
// error that tells a missing key, another scheme and a wrong key apart
// (never echoing what was sent).
func checkKey(header string, want []byte) error {
	if header == "" {
		return autodebit.Errorf(autodebit.EUNAUTHORIZED, "No API key: send it as \"Authorization: Bearer <api-key>\".")
	}
	scheme, key, _ := strings.Cut(header, " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return autodebit.Errorf(autodebit.EUNAUTHORIZED, "The Authorization header must be \"Bearer <api-key>\".")
	}
	if subtle.ConstantTimeCompare([]byte(strings.TrimSpace(key)), want) != 1 {
		return autodebit.Errorf(autodebit.EUNAUTHORIZED,
			"The API key is wrong: send the one autodebit serve printed when it generated it (or was given with --api-key).")
	}
	return nil
}

// errorResponse is the body of every error: a code and a sentence a person
// can act on.
type errorResponse struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// codeMethodNotAllowed is the error code of a known /v1 path asked with a
// method it does not take: an HTTP matter, so not a domain code.
const codeMethodNotAllowed = "method_not_allowed"

// StatusCode returns the HTTP status of an error by its domain code: 400
// EINVALID, 404 ENOTFOUND, 409 ECONFLICT, 401 EUNAUTHORIZED, 402 EDECLINED,
// 429 ERATELIMITED, 503 EUNAVAILABLE, 405 for a known path's wrong method,
// 500 otherwise.
func StatusCode(err error) int { return statusByCode[autodebit.ErrorCode(err)] }

var statusByCode = map[string]int{
	codeMethodNotAllowed:    http.StatusMethodNotAllowed,
	autodebit.EINVALID:      http.StatusBadRequest,
	autodebit.ENOTFOUND:     http.StatusNotFound,
	autodebit.ECONFLICT:     http.StatusConflict,
	autodebit.EUNAUTHORIZED: http.StatusUnauthorized,
	autodebit.EDECLINED:     http.StatusPaymentRequired,
	autodebit.EUNAVAILABLE:  http.StatusServiceUnavailable,
	autodebit.ERATELIMITED:  http.StatusTooManyRequests,
	autodebit.EINTERNAL:     http.StatusInternalServerError,
}

func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	code := autodebit.ErrorCode(err)
	if code == autodebit.EINTERNAL {
		s.log.Error("api request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	var body errorResponse
	body.Error.Code, body.Error.Message = code, autodebit.ErrorMessage(err)
	writeJSON(w, statusByCode[code], body)
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// decodeBody reads a JSON request body into v, refusing unknown fields,
// trailing data and bodies over MaxBodyBytes, with an error naming the
// problem.
func decodeBody(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &mbe):
			return autodebit.Errorf(autodebit.EINVALID, "Request body is over %d bytes.", MaxBodyBytes)
		case errors.As(err, &se):
			return autodebit.Errorf(autodebit.EINVALID, "Request body is not valid JSON (at byte %d).", se.Offset)
		case errors.As(err, &te):
			return typeError(te)
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			return autodebit.Errorf(autodebit.EINVALID, "Unknown field %s.", strings.TrimPrefix(err.Error(), "json: unknown field "))
		case errors.Is(err, io.EOF):
			return autodebit.Errorf(autodebit.EINVALID, "Request body is empty; send a JSON object.")
		case errors.Is(err, io.ErrUnexpectedEOF):
			return autodebit.Errorf(autodebit.EINVALID, "Request body is not valid JSON (it ends too early).")
		default:
			var ae *autodebit.Error
			if errors.As(err, &ae) {
				return ae
			}
			return autodebit.Errorf(autodebit.EINVALID, "Request body is not acceptable: %v.", err)
		}
	}
	if dec.More() {
		return autodebit.Errorf(autodebit.EINVALID, "Request body has data after the JSON object.")
	}
	return nil
}

// typeError names the field that got a JSON value of the wrong type and
// the JSON it takes, in JSON's words rather than Go's: "Field "tokenId"
// must be a string, not a number."
func typeError(te *json.UnmarshalTypeError) error {
	if te.Field == "" {
		return autodebit.Errorf(autodebit.EINVALID, "Request body must be %s, not %s.", jsonShape(te.Type), jsonKind(te.Value))
	}
	return autodebit.Errorf(autodebit.EINVALID, "Field %q must be %s, not %s.", te.Field, jsonShape(te.Type), jsonKind(te.Value))
}

// jsonShape describes the JSON a Go type decodes from: "a string", "an
// object {currency, value}".
func jsonShape(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map:
		return "an object"
	case reflect.Struct:
		var names []string
		for f := range t.Fields() {
			if name, _, _ := strings.Cut(f.Tag.Get("json"), ","); f.IsExported() && name != "-" {
				names = append(names, cmp.Or(name, f.Name))
			}
		}
		return "an object {" + strings.Join(names, ", ") + "}"
	}
	return "another JSON value"
}

// jsonKind names the JSON value an UnmarshalTypeError got ("string",
// "number 1e99", "bool"), with its article.
func jsonKind(value string) string {
	kind, _, _ := strings.Cut(value, " ")
	switch kind {
	case "string", "number":
		return "a " + kind
	case "bool":
		return "true or false"
	case "array", "object":
		return "an " + kind
	}
	return kind
}

// pinger is implemented by stores that can check their database cheaply.
type pinger interface {
	Ping(ctx context.Context) error
}

// healthz answers 200 while the store answers. It needs no key, so it runs
// one cheap query and nothing else.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	var err error
	if p, ok := s.store.(pinger); ok {
		err = p.Ping(r.Context())
	} else {
		_, err = s.store.FindDueCharges(r.Context(), time.Time{}, 1)
	}
	if err != nil {
		s.log.Error("health check failed", "err", err)
		http.Error(w, "store unavailable", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintln(w, "ok")
}
