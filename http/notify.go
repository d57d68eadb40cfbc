package http

import (
	"errors"
	"net/http"
	"strings"

	"github.com/autodebit/autodebit"
	"github.com/autodebit/autodebit/antom"
	"github.com/autodebit/autodebit/engine"
	qrcode "github.com/skip2/go-qrcode"
)

// notify returns the receiver of one kind of Antom notification. It
// verifies the signature, applies the notification and only then writes the
// acknowledgement Antom expects. A rejected notification gets a 4xx with the
// reason and changes nothing; a failure to store gets a 5xx so that Antom
// resends it.
func (s *Server) notify(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		n, err := s.cfg.Verifier.Verify(r)
		if err == nil && n.Kind != kind {
			err = &antom.NotificationError{Reason: "a " + n.Kind + " notification sent to the " + kind + " endpoint", Err: antom.ErrUnknownNotify}
		}
		if err != nil {
			status := http.StatusBadRequest
			if errors.Is(err, antom.ErrBadSignature) || errors.Is(err, antom.ErrMissingSignature) || errors.Is(err, antom.ErrWrongClientID) {
				status = http.StatusUnauthorized
			} else if errors.Is(err, antom.ErrBodyTooLarge) {
				status = http.StatusRequestEntityTooLarge
			}
			s.logRejected(r, kind, err)
			s.engine.NotificationRejected(kind)
			var body errorResponse
			body.Error.Code, body.Error.Message = "rejected", err.Error()
			writeJSON(w, status, body)
			return
		}
		if err := s.engine.HandleNotification(r.Context(), n); err != nil {
			var body errorResponse
			var refused *engine.NotificationRefusedError
			if errors.As(err, &refused) {
				// Signed, but not to be acknowledged: it disagrees with
				// what we hold (400), or must wait for a cancel in flight
				// (503). Nothing changed; the engine logged why.
				status := http.StatusBadRequest
				body.Error.Code = "rejected"
				if refused.Later {
					status, body.Error.Code = http.StatusServiceUnavailable, autodebit.EUNAVAILABLE
				}
				body.Error.Message = refused.Error()
				writeJSON(w, status, body)
				return
			}
			s.log.Error("notification not applied; Antom will resend it", "kind", kind, "err", err)
			body.Error.Code, body.Error.Message = autodebit.EINTERNAL, "Internal error."
			writeJSON(w, http.StatusInternalServerError, body)
			return
		}
		antom.WriteAck(w)
	}
}

// rejectReasons are the keys of the limit on rejection warnings: a fixed
// set, so that a sender cannot make the limiter remember more.
var rejectReasons = []error{
	antom.ErrBodyTooLarge, antom.ErrMissingHeader, antom.ErrWrongClientID, antom.ErrStaleTimestamp,
	antom.ErrMissingSignature, antom.ErrBadSignature, antom.ErrMalformedBody, antom.ErrUnknownNotify,
}

// logRejected warns about a rejected notification, at most once per
// RejectedLogInterval for each kind and reason (the sentinel error it
// wraps), saying how many like it were not logged since the previous line.
func (s *Server) logRejected(r *http.Request, kind string, err error) {
	reason := "other"
	for _, sentinel := range rejectReasons {
		if errors.Is(err, sentinel) {
			reason = sentinel.Error()
			break
		}
	}
	ok, suppressed := s.rejectLog.allow(kind + "\x00" + reason)
	if !ok {
		return
	}
	attrs := []any{"kind", kind, "remote", r.RemoteAddr, "err", err}
	if suppressed > 0 {
		attrs = append(attrs, "suppressed", suppressed)
	}
	s.log.Warn("notification rejected", attrs...)
}

// qrImage serves an authorization's QR code as a PNG. The authorization ID
// is unguessable and the image shows only what the buyer scans anyway, so
// it needs no API key (the console and the buyer's page load it).
func (s *Server) qrImage(w http.ResponseWriter, r *http.Request) {
	id, ok := strings.CutSuffix(r.PathValue("file"), ".png")
	if !ok {
		http.NotFound(w, r)
		return
	}
	a, err := s.store.FindAuthorizationByID(r.Context(), id)
	if err != nil || a.QRText == "" {
		http.NotFound(w, r)
		return
	}
	png, err := qrcode.Encode(a.QRText, qrcode.Medium, 320)
	if err != nil {
		s.log.Error("render QR code", "authorization", id, "err", err)
		http.Error(w, "cannot render QR code", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Cache-Control", "private, max-age=900")
	w.Write(png)
}
