package http

import (
	"net/http"
	"strings"
)

// setSecurityHeaders sets the headers every response of the server
// carries, before any handler runs, so that errors, 404s and the console
// get them too:
//
//   - X-Content-Type-Options: nosniff, so that a browser never runs a JSON
//     error or a text body as HTML or script;
//   - X-Frame-Options: DENY and a Content-Security-Policy of
//     "default-src 'none'; frame-ancestors 'none'", so that no response can
//     be framed (clickjacking) or load anything when opened in a browser;
//   - Referrer-Policy: no-referrer;
//   - Cache-Control: no-store on the API (/v1), the notification receivers,
//     /metrics and /healthz, whose answers hold customer data or state that
//     no browser or proxy may keep.
//
// A handler may replace them: the console sets its own policy (its pages
// need its scripts and styles), and QR images may be cached privately.
func setSecurityHeaders(h http.Header, path string) {
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
	h.Set("Referrer-Policy", "no-referrer")
	if noStore(path) {
		h.Set("Cache-Control", "no-store")
	}
}

func noStore(path string) bool {
	return path == "/v1" || strings.HasPrefix(path, "/v1/") || strings.HasPrefix(path, "/antom/") ||
		path == "/metrics" || path == "/healthz"
}
