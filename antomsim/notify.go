package antomsim

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"

	"github.com/autodebit/autodebit/antom"
)

// Notification statuses.
const (
	NotifyPending   = "PENDING"   // waiting for an attempt or a resend
	NotifyDelivered = "DELIVERED" // the merchant answered with the exact ack
	NotifyFailed    = "FAILED"    // the last resend failed; Antom gives up
	NotifyNoURL     = "NO_URL"    // neither the request nor Config.NotifyURL gave a URL
)

// Notification is one notification Antom sends, with every delivery
// attempt: the delivery log.
type Notification struct {
	ID string `json:"id"`
	// Kind is antom.KindAuthorization, antom.KindPayment or antom.KindRefund.
	Kind string `json:"kind"`
	// Type is the authorizationNotifyType or notifyType, e.g.
	// AUTHCODE_CREATED, TOKEN_CANCELED, PAYMENT_RESULT, REFUND_RESULT.
	Type string `json:"type"`
	// Subject is what it is about: the authState (AUTHCODE_CREATED), the
	// access token (TOKEN_CANCELED), the paymentRequestId or the
	// refundRequestId.
	Subject    string          `json:"subject"`
	URL        string          `json:"url"`
	Status     string          `json:"status"`
	Body       json.RawMessage `json:"body"`
	CreateTime time.Time       `json:"createTime"`
	Attempts   []Attempt       `json:"attempts"`
}

// Attempt is one delivery attempt of a notification.
type Attempt struct {
	Number int `json:"number"` // 1 is the first send, 2 the first resend, …
	// ScheduledTime is when the attempt was due by the resend schedule
	// (after any delay fault); SentTime is the clock when it was made.
	ScheduledTime time.Time `json:"scheduledTime"`
	SentTime      time.Time `json:"sentTime"`
	// Fault is the notification fault applied: drop, duplicate, delay or
	// reorder.
	Fault      string `json:"fault,omitempty"`
	StatusCode int    `json:"statusCode,omitempty"`
	// Acked is true when the merchant answered HTTP 200 with the exact ack.
	Acked    bool   `json:"acked"`
	Error    string `json:"error,omitempty"`
	Response string `json:"response,omitempty"`
}

type notification struct {
	Notification
}

// attempt is a scheduled delivery attempt.
type attempt struct {
	n       *notification
	number  int
	due     time.Time
	delayed bool // a delay fault was applied
	held    bool // a reorder fault holds it
	fault   string
}

// notify records a notification and schedules its first attempt at at.
// Callers hold s.mu.
func (s *Sim) notify(kind, typ, subject, url string, body any, at time.Time) {
	b, err := antom.MarshalBody(body)
	if err != nil {
		s.log.Error("antomsim: marshal notification", "kind", kind, "err", err)
		return
	}
	s.st.notifSeq++
	n := &notification{Notification{ID: fmt.Sprintf("ntf_%06d", s.st.notifSeq), Kind: kind, Type: typ,
		Subject: subject, URL: url, Status: NotifyPending, Body: b, CreateTime: at}}
	s.st.notifs = append(s.st.notifs, n)
	s.trimLog()
	if url == "" {
		n.Status = NotifyNoURL
		return
	}
	s.scheduleAttempt(at, &attempt{n: n, number: 1})
}

// trimLog drops the oldest finished notifications once the delivery log
// holds a quarter more than MaxLoggedNotifications, so that a long load test
// does not grow the simulator without bound. Notifications still being
// delivered are kept. Callers hold s.mu.
func (s *Sim) trimLog() {
	limit := s.cfg.MaxLoggedNotifications
	if len(s.st.notifs) <= limit+limit/4 {
		return
	}
	drop := len(s.st.notifs) - limit
	kept := s.st.notifs[:0]
	for _, n := range s.st.notifs {
		if drop > 0 && n.Status != NotifyPending {
			drop--
			continue
		}
		kept = append(kept, n)
	}
	clear(s.st.notifs[len(kept):])
	s.st.notifs = kept
}

// prepareAttempt applies notification faults to an attempt that is due and
// returns the attempts to start now, in order. Callers hold s.mu.
func (s *Sim) prepareAttempt(a *attempt, due time.Time) []*attempt {
	if a.held {
		// The reorder hold ran out with no later notification to let by.
		i := slices.Index(s.st.held, a)
		if i < 0 {
			return nil // already released
		}
		s.st.held = slices.Delete(s.st.held, i, i+1)
		return []*attempt{a}
	}
	a.due = due
	if f := s.notifyFault(a.n.Kind, a.delayed); f != nil {
		switch f.Kind {
		case FaultDelay:
			a.delayed, a.fault = true, FaultDelay
			s.scheduleAttempt(due.Add(time.Duration(f.Delay)), a)
			return nil
		case FaultReorder:
			a.held, a.fault = true, FaultReorder
			s.st.held = append(s.st.held, a)
			s.scheduleAttempt(due.Add(time.Duration(f.Delay)), a)
			return nil
		default:
			a.fault = f.Kind
		}
	}
	out := []*attempt{a}
	if len(s.st.held) > 0 {
		out = append(out, s.st.held...)
		s.st.held = nil
	}
	return out
}

// startAttempt delivers attempts in order in the background.
func (s *Sim) startAttempt(batch []*attempt) {
	s.addInflight(1)
	go func() {
		defer s.addInflight(-1)
		s.sem <- struct{}{}
		defer func() { <-s.sem }()
		for _, a := range batch {
			s.deliver(a)
		}
	}()
}

// deliver makes one attempt and schedules the next one if it failed.
func (s *Sim) deliver(a *attempt) {
	n := a.n
	now := s.now()
	rec := Attempt{Number: a.number, ScheduledTime: a.due, SentTime: now, Fault: a.fault}
	switch a.fault {
	case FaultDrop:
		rec.Error = "dropped by fault injection"
	default:
		rec.StatusCode, rec.Acked, rec.Response, rec.Error = s.post(n)
		if a.fault == FaultDuplicate {
			code, acked, resp, errText := s.post(n)
			if !rec.Acked {
				rec.StatusCode, rec.Acked, rec.Response, rec.Error = code, acked, resp, errText
			}
		}
	}
	s.log.Debug("antomsim: notification attempt", "id", n.ID, "type", n.Type, "url", n.URL,
		"attempt", a.number, "status", rec.StatusCode, "acked", rec.Acked, "fault", rec.Fault, "err", rec.Error)
	s.mu.Lock()
	defer s.mu.Unlock()
	n.Attempts = append(n.Attempts, rec)
	s.changed()
	switch {
	case rec.Acked:
		n.Status = NotifyDelivered
	case a.number < len(s.schedule):
		s.scheduleAttempt(a.due.Add(s.schedule[a.number]), &attempt{n: n, number: a.number + 1})
	default:
		n.Status = NotifyFailed
	}
}

// post sends n once, signed with Antom's key. Its request-time is the
// moment it is sent on the receiver's clock (see headerNow).
func (s *Sim) post(n *notification) (status int, acked bool, response, errText string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := antom.NewNotificationRequest(ctx, n.URL, s.cfg.ClientID, s.timeHeader(s.headerNow()), s.key, antom.DefaultKeyVersion, n.Body)
	if err != nil {
		return 0, false, "", err.Error()
	}
	resp, err := s.httpClient.Do(req)
	if err != nil {
		return 0, false, "", err.Error()
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return resp.StatusCode, false, "", "read answer: " + err.Error()
	}
	response = string(body)
	if len(response) > 512 {
		response = response[:512] + "…"
	}
	acked = resp.StatusCode == http.StatusOK && antom.IsAck(body)
	if !acked {
		errText = "answer is not the ack"
	}
	return resp.StatusCode, acked, response, errText
}

// NotificationFilter selects notifications; empty fields match all.
type NotificationFilter struct {
	Kind    string
	Type    string
	Status  string
	Subject string
}

// Notifications returns the delivery log: every notification matching f,
// oldest first, with its attempts.
func (s *Sim) Notifications(f NotificationFilter) []Notification {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Notification
	for _, n := range s.st.notifs {
		if (f.Kind == "" || n.Kind == f.Kind) && (f.Type == "" || n.Type == f.Type) &&
			(f.Status == "" || n.Status == f.Status) && (f.Subject == "" || n.Subject == f.Subject) {
			c := n.Notification
			c.Attempts = slices.Clone(n.Attempts)
			out = append(out, c)
		}
	}
	return out
}
