package http

import (
	"net/http"
	"strings"
	"time"

	"github.com/autodebit/autodebit"
	"github.com/autodebit/autodebit/api"
	"github.com/autodebit/autodebit/engine"
)

// LinkSession is a link session as the API shows it (see api.LinkSession).
type LinkSession = api.LinkSession

type createLinkSessionRequest struct {
	CustomerID string `json:"customerId"`
	// Wallet is the wallet to link; omitted, the buyer chooses on the page.
	Wallet string `json:"wallet,omitempty"`
	// ReturnURL is where the browser goes once linked; omitted, a page of
	// the engine's saying the wallet is linked.
	ReturnURL string `json:"returnUrl,omitempty"`
	CancelURL string `json:"cancelUrl,omitempty"`
	Locale    string `json:"locale,omitempty"`
	// Lifetime is how long the URL works, as a duration such as "2h" or
	// "90m": 1m to 24h; omitted, 1h.
	Lifetime string `json:"lifetime,omitempty"`
}

func (s *Server) createLinkSession(w http.ResponseWriter, r *http.Request) error {
	var req createLinkSessionRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	if req.CustomerID == "" {
		return autodebit.Errorf(autodebit.EINVALID, "Field \"customerId\" is required.")
	}
	var lifetime time.Duration
	if req.Lifetime != "" {
		d, err := time.ParseDuration(req.Lifetime)
		if err != nil || d <= 0 {
			return autodebit.Errorf(autodebit.EINVALID, "Field \"lifetime\" must be a duration such as \"2h\" or \"90m\", from 1m to 24h, not %q.", clip(req.Lifetime, 32))
		}
		lifetime = d
	}
	ctx, replay := engine.WithReplayReport(r.Context())
	ls, err := s.engine.CreateLinkSession(ctx, engine.LinkSessionInput{
		CustomerID: req.CustomerID, Wallet: req.Wallet, ReturnURL: req.ReturnURL, CancelURL: req.CancelURL,
		Locale: req.Locale, Lifetime: lifetime, IdempotencyKey: r.Header.Get("Idempotency-Key"),
	})
	if err != nil {
		return err
	}
	markReplayed(w, *replay)
	return writeJSON(w, http.StatusCreated, s.engine.LinkSessionView(ls))
}

// clip shortens s for an error message.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}

func (s *Server) getLinkSession(w http.ResponseWriter, r *http.Request) error {
	ls, err := s.store.FindLinkSessionByID(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, s.engine.LinkSessionView(ls))
}

func (s *Server) listLinkSessions(w http.ResponseWriter, r *http.Request) error {
	q := query{r: r}
	f := autodebit.LinkSessionFilter{
		Status: autodebit.LinkSessionStatus(q.str("status")), CustomerID: q.str("customerId"), Wallet: q.str("wallet"),
		CreatedAfter: q.time("createdAfter"), CreatedBefore: q.time("createdBefore"), Limit: q.limit(), Offset: q.int("offset"),
	}
	if f.Status != "" && !f.Status.Valid() {
		q.fail("status", "is not a link session status (open, complete, cancelled, expired)")
	}
	if q.err != nil {
		return q.err
	}
	items, total, err := s.store.FindLinkSessions(r.Context(), f)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, listOf(items, total, s.engine.LinkSessionView))
}

func (s *Server) cancelLinkSession(w http.ResponseWriter, r *http.Request) error {
	ls, err := s.engine.CancelLinkSession(r.Context(), r.PathValue("id"), engine.CancelledByMerchant)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, s.engine.LinkSessionView(ls))
}

// linkSessionOperations document the link session routes; OpenAPI adds
// them to apiOperations.
var linkSessionOperations = []apiOperation{
	{Pattern: "POST /v1/link-sessions", ID: "createLinkSession", Summary: "Make a page that links a buyer's wallet",
		Description: "Returns the session open, with url: send the buyer there (no login; the URL is the credential, so share it only with that buyer). " +
			"The page lets the buyer choose a wallet when none is given, shows the QR code (on a phone, a button that opens the wallet), and sends the browser to returnUrl with link_session and token added once the token is ACTIVE; " +
			"a failed or expired attempt offers \"Try again\" (a new consult with a new authState, same session); Cancel goes to cancelUrl with link_session and status=cancelled. " +
			"returnUrl and cancelUrl must be absolute http(s) URLs on a host the engine allows (serve --link-return-hosts); without returnUrl the buyer ends on a page of the engine's saying the wallet is linked. The session expires after lifetime (default 1h, at most 24h): link_session.completed or link_session.expired is published.",
		Body: createLinkSessionRequest{}, Idempotent: true, Status: 201, Response: LinkSession{}},
	{Pattern: "GET /v1/link-sessions", ID: "listLinkSessions", Summary: "List link sessions, newest first",
		Query: listQuery(autodebit.LinkSessionStatuses()), Status: 200, Response: List[LinkSession]{}},
	{Pattern: "GET /v1/link-sessions/{id}", ID: "getLinkSession", Summary: "Read a link session, with its url", Status: 200, Response: LinkSession{}},
	{Pattern: "POST /v1/link-sessions/{id}/cancel", ID: "cancelLinkSession", Summary: "Cancel an open link session",
		Description: "Its page stops working and a QR code still shown links nothing. A complete or expired session cannot be cancelled (409); cancelling a cancelled one returns it.",
		Status:      200, Response: LinkSession{}},
	{Pattern: "GET /v1/link-sessions/{id}/timeline", ID: "listLinkSessionTimeline", Summary: "Timeline of a link session: its attempts and status changes",
		Status: 200, Response: List[TimelineEntry]{}},
}
