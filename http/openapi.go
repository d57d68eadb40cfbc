package http

import (
	"encoding/json"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/autodebit/autodebit"
	"github.com/autodebit/autodebit/antom"
)

// apiOperation documents one REST API route. The OpenAPI document is built
// from this table and from the request and response types by reflection;
// a test checks the table against the routes the server registers.
type apiOperation struct {
	Pattern      string // as registered: "POST /v1/charges"
	ID           string // operationId
	Summary      string
	Description  string
	Query        []queryParam
	Body         any  // zero value of the request body type, or nil
	BodyOptional bool // the body may be left out
	Idempotent   bool // takes an Idempotency-Key header
	Status       int  // success status
	Response     any  // zero value of the response body type
}

type queryParam struct {
	Name, Type, Description string
	Enum                    []string // the values it takes, if listed
}

func listQuery[S ~string](statuses []S, extra ...queryParam) []queryParam {
	q := []queryParam{
		{"status", "string", "Only objects in this status.", strs(statuses)},
		{"customerId", "string", "Only this customer's objects.", nil},
		{"wallet", "string", "Only this wallet.", walletCodes()},
	}
	q = append(q, extra...)
	return append(q,
		queryParam{"createdAfter", "string", "Created at or after: an RFC 3339 time or a YYYY-MM-DD date (UTC).", nil},
		queryParam{"createdBefore", "string", "Created before: an RFC 3339 time or a YYYY-MM-DD date (UTC).", nil},
		queryParam{"limit", "integer", "Page size, 1 to 100; default 100.", nil},
		queryParam{"offset", "integer", "Objects to skip; default 0.", nil},
	)
}

// fieldEnums lists the values of the API's enumerated fields by schema
// and JSON name ("Charge.status"), taken from the domain's own lists so
// that the document cannot drift from what the engine writes.
func fieldEnums() map[string][]string {
	wallets := walletCodes()
	return map[string][]string{
		"Authorization.status":        strs(autodebit.AuthorizationStatuses()),
		"Authorization.wallet":        wallets,
		"Token.status":                strs(autodebit.TokenStatuses()),
		"Token.wallet":                wallets,
		"Token.revokedBy":             {autodebit.RevokedByMerchant, autodebit.RevokedByWallet, autodebit.RevokedByAntom},
		"Charge.status":               strs(autodebit.ChargeStatuses()),
		"Charge.wallet":               wallets,
		"Charge.settledBy":            {autodebit.SettledByPay, autodebit.SettledByNotification, autodebit.SettledByInquiry, autodebit.SettledByCancel},
		"Refund.status":               strs(autodebit.RefundStatuses()),
		"CreateAuthorization.wallet":  wallets,
		"TimelineEntry.direction":     {autodebit.TimelineOut, autodebit.TimelineIn},
		"TimelineEntry.resultStatus":  {antom.StatusSuccess, antom.StatusFail, antom.StatusUnknown},
		"Event.type":                  strs(autodebit.EventTypes()),
		"Delivery.status":             strs(autodebit.DeliveryStatuses()),
		"Subscription.status":         strs(autodebit.SubscriptionStatuses()),
		"Subscription.interval":       strs(autodebit.Intervals()),
		"Subscription.wallet":         wallets,
		"CreateSubscription.interval": strs(autodebit.Intervals()),
		"LinkSession.status":          strs(autodebit.LinkSessionStatuses()),
		"LinkSession.locale":          autodebit.LinkSessionLocales(),
		"LinkSession.wallet":          append([]string{""}, wallets...), // "" until the buyer chooses
		"CreateLinkSession.wallet":    wallets,
		"CreateLinkSession.locale":    autodebit.LinkSessionLocales(),
	}
}

// walletCodes returns the codes of the Scan to Link wallets.
func walletCodes() []string {
	var codes []string
	for _, w := range antom.Wallets() {
		codes = append(codes, w.Code)
	}
	return codes
}

func strs[S ~string](values []S) []string {
	out := make([]string, len(values))
	for i, v := range values {
		out[i] = string(v)
	}
	return out
}

// Health is the body of GET /v1/health: the engine's backlog.
type Health struct {
	OpenCharges              int        `json:"openCharges"`
	OldestOpenChargeAt       *time.Time `json:"oldestOpenChargeAt"`
	NextInquiryAt            *time.Time `json:"nextInquiryAt"`
	ProcessingRefunds        int        `json:"processingRefunds"`
	OldestProcessingRefundAt *time.Time `json:"oldestProcessingRefundAt"`
}

var apiOperations = []apiOperation{
	{Pattern: "POST /v1/authorizations", ID: "createAuthorization", Summary: "Start linking a wallet",
		Description: "Calls Antom consult and returns the authorization PENDING with the QR code the buyer scans (qr.text; qr.imageUrl is a PNG). Poll it until ACTIVE (tokenId set), FAILED or EXPIRED.",
		Body:        createAuthorizationRequest{}, Status: 201, Response: Authorization{}},
	{Pattern: "GET /v1/authorizations", ID: "listAuthorizations", Summary: "List authorizations, newest first",
		Query: listQuery(autodebit.AuthorizationStatuses()), Status: 200, Response: List[Authorization]{}},
	{Pattern: "GET /v1/authorizations/{id}", ID: "getAuthorization", Summary: "Read an authorization", Status: 200, Response: Authorization{}},
	{Pattern: "GET /v1/authorizations/{id}/timeline", ID: "listAuthorizationTimeline", Summary: "Timeline (audit trail) of an authorization", Status: 200, Response: List[TimelineEntry]{}},
	{Pattern: "GET /v1/tokens", ID: "listTokens", Summary: "List payment tokens",
		Query: listQuery(autodebit.TokenStatuses()), Status: 200, Response: List[Token]{}},
	{Pattern: "GET /v1/tokens/{id}", ID: "getToken", Summary: "Read a token (never the access token)", Status: 200, Response: Token{}},
	{Pattern: "DELETE /v1/tokens/{id}", ID: "revokeToken", Summary: "Revoke a token",
		Description: "Revokes the token at Antom and marks it REVOKED; while Antom cannot be reached it stays revokePending and a job retries.",
		Status:      200, Response: Token{}},
	{Pattern: "GET /v1/tokens/{id}/timeline", ID: "listTokenTimeline", Summary: "Timeline (audit trail) of a token", Status: 200, Response: List[TimelineEntry]{}},
	{Pattern: "POST /v1/charges", ID: "createCharge", Summary: "Charge a token",
		Description: "Sends pay and returns the charge: SUCCESS or FAIL when Antom answered at once, else INIT until a notification or inquiry settles it. The same Idempotency-Key with the same body returns the first charge; with a different body it is a 409.",
		Body:        createChargeRequest{}, Idempotent: true, Status: 201, Response: Charge{}},
	{Pattern: "GET /v1/charges", ID: "listCharges", Summary: "List charges, newest first",
		Query: listQuery(autodebit.ChargeStatuses(), queryParam{"tokenId", "string", "Only charges of this token.", nil},
			queryParam{"subscriptionId", "string", "Only the charges of this subscription.", nil}), Status: 200, Response: List[Charge]{}},
	{Pattern: "GET /v1/charges/{id}", ID: "getCharge", Summary: "Read a charge", Status: 200, Response: Charge{}},
	{Pattern: "GET /v1/charges/{id}/timeline", ID: "listChargeTimeline", Summary: "Timeline (audit trail) of a charge: every Antom exchange and notification", Status: 200, Response: List[TimelineEntry]{}},
	{Pattern: "POST /v1/charges/{id}/cancel", ID: "cancelCharge", Summary: "Cancel a charge that is not yet SUCCESS",
		Description: "A SUCCESS charge cannot be cancelled (409): refund it instead.", Status: 200, Response: Charge{}},
	{Pattern: "POST /v1/charges/{id}/refunds", ID: "createRefund", Summary: "Refund part or all of a SUCCESS charge",
		Body: createRefundRequest{}, Idempotent: true, Status: 201, Response: Refund{}},
	{Pattern: "GET /v1/charges/{id}/refunds", ID: "listChargeRefunds", Summary: "Refunds of a charge", Status: 200, Response: List[Refund]{}},
	{Pattern: "GET /v1/refunds/{id}", ID: "getRefund", Summary: "Read a refund", Status: 200, Response: Refund{}},
	{Pattern: "GET /v1/refunds/{id}/timeline", ID: "listRefundTimeline", Summary: "Timeline (audit trail) of a refund", Status: 200, Response: List[TimelineEntry]{}},
	{Pattern: "GET /v1/health", ID: "getHealth", Summary: "Backlog: open charges and processing refunds", Status: 200, Response: Health{}},
	{Pattern: "GET /v1/events", ID: "listEvents", Summary: "List events, newest first",
		Description: "Every final change of an authorization, token, charge or refund, and every status change of a subscription, written in the change's own transaction: data.object is the object as its GET returned it right after the change, and sequence counts each object's events from 1. Events are kept for the retention period (serve --event-retention, 30 days by default).",
		Query: []queryParam{
			{"type", "string", "Only events of this type.", strs(autodebit.EventTypes())},
			{"objectId", "string", "Only events of this object (auth_…, tok_…, chg_…, rfd_…, sub_…).", nil},
			{"createdAfter", "string", "Created at or after: an RFC 3339 time or a YYYY-MM-DD date (UTC).", nil},
			{"createdBefore", "string", "Created before: an RFC 3339 time or a YYYY-MM-DD date (UTC).", nil},
			{"limit", "integer", "Page size, 1 to 100; default 100.", nil},
			{"offset", "integer", "Events to skip; default 0.", nil},
		}, Status: 200, Response: List[Event]{}},
	{Pattern: "GET /v1/events/{id}", ID: "getEvent", Summary: "Read an event", Status: 200, Response: Event{}},
}

// OpenAPI returns the OpenAPI 3 document of the merchant REST API, as served
// at GET /openapi.json.
func OpenAPI() map[string]any {
	g := &schemaGen{components: map[string]any{}, enums: fieldEnums()}
	errSchema := g.schema(reflect.TypeFor[errorResponse]())
	paths := map[string]map[string]any{}
	ops := append(append(apiOperations[:len(apiOperations):len(apiOperations)], webhookEndpointOperations...), deliveryOperations...)
	ops = append(append(ops, linkSessionOperations...), subscriptionOperations...)
	for _, op := range append(ops, clockOperations...) {
		method, path, _ := strings.Cut(op.Pattern, " ")
		o := map[string]any{"operationId": op.ID, "summary": op.Summary}
		if op.Description != "" {
			o["description"] = op.Description
		}
		var params []any
		if strings.Contains(path, "{id}") {
			params = append(params, map[string]any{"name": "id", "in": "path", "required": true, "schema": map[string]any{"type": "string"},
				"description": "The object's ID (auth_…, tok_…, chg_…, rfd_…, evt_…, we_…, ls_…, sub_…)."})
		}
		for _, q := range op.Query {
			schema := map[string]any{"type": q.Type}
			if q.Enum != nil {
				schema["enum"] = q.Enum
			}
			params = append(params, map[string]any{"name": q.Name, "in": "query", "schema": schema, "description": q.Description})
		}
		if op.Idempotent {
			params = append(params, map[string]any{"name": "Idempotency-Key", "in": "header", "schema": map[string]any{"type": "string", "maxLength": 255},
				"description": "Makes the request safe to repeat: the same key and body return the first result, marked Idempotent-Replayed: true; the same key with another body is a 409."})
		}
		if params != nil {
			o["parameters"] = params
		}
		if op.Body != nil {
			o["requestBody"] = map[string]any{"required": !op.BodyOptional, "content": map[string]any{
				"application/json": map[string]any{"schema": g.schema(reflect.TypeOf(op.Body))}}}
		}
		ok := map[string]any{"description": "OK", "content": map[string]any{
			"application/json": map[string]any{"schema": g.schema(reflect.TypeOf(op.Response))}}}
		if op.Idempotent {
			ok["headers"] = map[string]any{ReplayedHeader: map[string]any{"schema": map[string]any{"type": "string", "enum": []any{"true"}},
				"description": "Present, \"true\", when the Idempotency-Key was used before: the body is the object the first request created, and nothing was sent to Antom again."}}
		}
		o["responses"] = map[string]any{
			itoa(op.Status): ok,
			"default": map[string]any{"description": "An error: code (invalid, not_found, method_not_allowed, conflict, unauthorized, declined, rate_limited, unavailable, internal) and a sentence a person can act on.",
				"content": map[string]any{"application/json": map[string]any{"schema": errSchema}}},
		}
		if paths[path] == nil {
			paths[path] = map[string]any{}
		}
		paths[path][strings.ToLower(method)] = o
	}
	return map[string]any{
		"openapi": "3.0.3",
		"info": map[string]any{
			"title":       "autodebit merchant API",
			"version":     "1",
			"description": "Antom Scan to Link auto debit: link a wallet, charge its token, know every result. Amount values are strings of minor units, as in Antom (\"1500\" is PHP 15.00).",
		},
		"servers":  []any{map[string]any{"url": "/"}},
		"security": []any{map[string]any{"apiKey": []any{}}},
		"paths":    paths,
		"components": map[string]any{
			"schemas": g.components,
			"securitySchemes": map[string]any{"apiKey": map[string]any{
				"type": "http", "scheme": "bearer", "description": "The operator API key: Authorization: Bearer <api-key>.",
			}},
		},
	}
}

// APIRoutes returns the patterns of the /v1 routes the server registered,
// sorted, without the catch-all.
func (s *Server) APIRoutes() []string {
	out := append([]string(nil), s.apiPatterns...)
	sort.Strings(out)
	return out
}

func (s *Server) openAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Write(s.openAPIJSON)
}

func mustMarshal(v any) []byte {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		panic(err)
	}
	return b
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// schemaGen derives JSON schemas from Go types the way encoding/json
// writes them: named structs become components.
type schemaGen struct {
	components map[string]any
	enums      map[string][]string // by "Schema.field", as fieldEnums
}

var (
	timeType = reflect.TypeFor[time.Time]()
	rawType  = reflect.TypeFor[json.RawMessage]()
)

func (g *schemaGen) schema(t reflect.Type) map[string]any {
	switch {
	case t == timeType:
		return map[string]any{"type": "string", "format": "date-time",
			"description": "UTC, to the second: 2006-01-02T15:04:05Z."}
	case t == rawType:
		return map[string]any{"description": "A body as JSON: the object exchanged with Antom, or a string when it was not JSON."}
	case t.Kind() == reflect.Pointer:
		s := g.schema(t.Elem())
		if _, ok := s["$ref"]; ok {
			return map[string]any{"allOf": []any{s}, "nullable": true}
		}
		s["nullable"] = true
		return s
	}
	switch t.Kind() {
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice:
		return map[string]any{"type": "array", "items": g.schema(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": g.schema(t.Elem())}
	case reflect.Struct:
		name := schemaName(t)
		if name == "" {
			return g.object(t)
		}
		if _, ok := g.components[name]; !ok {
			g.components[name] = nil // placeholder against recursion
			g.components[name] = g.object(t)
		}
		return map[string]any{"$ref": "#/components/schemas/" + name}
	}
	return map[string]any{}
}

func (g *schemaGen) object(t reflect.Type) map[string]any {
	props := map[string]any{}
	var required []string
	for f := range t.Fields() {
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		if f.Anonymous && tag == "" && f.Type.Kind() == reflect.Struct {
			// An embedded view: encoding/json puts its fields here.
			inner := g.object(f.Type)
			for k, v := range inner["properties"].(map[string]any) {
				props[k] = v
			}
			if req, ok := inner["required"].([]string); ok {
				required = append(required, req...)
			}
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" {
			name = f.Name
		}
		props[name] = g.schema(f.Type)
		if schemaName(t) == "EventData" && name == "object" {
			props[name] = g.eventObject()
		}
		if enum, ok := g.enums[schemaName(t)+"."+name]; ok {
			props[name].(map[string]any)["enum"] = enum
		}
		if !strings.Contains(opts, "omitempty") && !strings.Contains(opts, "omitzero") && f.Type.Kind() != reflect.Pointer {
			required = append(required, name)
		}
	}
	s := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		s["required"] = required
	}
	return s
}

// eventObject is the schema of an event's data.object: the view its
// object's GET returns.
func (g *schemaGen) eventObject() map[string]any {
	var views []any
	for _, v := range []any{Authorization{}, Token{}, Charge{}, Refund{}, LinkSession{}, Subscription{}} {
		views = append(views, g.schema(reflect.TypeOf(v)))
	}
	return map[string]any{"oneOf": views, "description": "The object as its GET returned it right after the change: an authorization.* event carries an Authorization, token.* a Token, charge.* a Charge, refund.* a Refund, link_session.* a LinkSession, subscription.* a Subscription."}
}

// schemaName names a struct type's component: Charge, ChargeList, Error;
// "" for an anonymous struct.
func schemaName(t reflect.Type) string {
	name := t.Name()
	if name == "" {
		return ""
	}
	if inner, ok := strings.CutPrefix(name, "List["); ok {
		inner = strings.TrimSuffix(inner, "]")
		inner = inner[strings.LastIndexByte(inner, '.')+1:]
		return inner + "List"
	}
	switch name {
	case "errorResponse":
		return "Error"
	case "createAuthorizationRequest":
		return "CreateAuthorization"
	case "createChargeRequest":
		return "CreateCharge"
	case "createRefundRequest":
		return "CreateRefund"
	case "createWebhookEndpointRequest":
		return "CreateWebhookEndpoint"
	case "updateWebhookEndpointRequest":
		return "UpdateWebhookEndpoint"
	case "createLinkSessionRequest":
		return "CreateLinkSession"
	case "advanceClockRequest":
		return "AdvanceClock"
	case "createSubscriptionRequest":
		return "CreateSubscription"
	case "cancelSubscriptionRequest":
		return "CancelSubscription"
	}
	return name
}
