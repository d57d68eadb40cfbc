package autodebit

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"time"
)

// InboundNotification is a notification received from Antom, recorded so
// that a redelivery is recognised and acknowledged without acting twice.
type InboundNotification struct {
	// DedupKey identifies the notification's content, not its delivery: the
	// same notification delivered twice has the same key. See
	// NotificationDedupKey.
	DedupKey string
	Type     string // e.g. "PAYMENT_RESULT", "AUTHCODE_CREATED", "TOKEN_CANCELED"
	ObjectID string // the object it concerns, when known
	Body     string // the raw body as received
	// SentAt is when Antom sent it (its request-time header); zero if the
	// header could not be read. ReceivedAt − SentAt is the notification lag.
	SentAt     time.Time
	ReceivedAt time.Time
}

// NotificationDedupKey returns the hex SHA-256 of the notification type and
// the parts that identify its content (request IDs, result status and code),
// each length-prefixed so that no two lists of parts share a key.
func NotificationDedupKey(typ string, parts ...string) string {
	h := sha256.New()
	for _, p := range append([]string{typ}, parts...) {
		h.Write(binary.BigEndian.AppendUint64(nil, uint64(len(p))))
		h.Write([]byte(p))
	}
	return hex.EncodeToString(h.Sum(nil))
}
