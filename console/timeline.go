package console

import (
	"context"
	"encoding/json"
	"sort"
	"strings"

	"github.com/autodebit/autodebit"
	"github.com/autodebit/autodebit/antom"
)

// timelineEntry is one entry of the page's object or of an object that
// belongs to it (a charge's refund, a token's link attempt).
type timelineEntry struct {
	*autodebit.TimelineEntry
	Of string // what the event belongs to when it is not the page's object, e.g. "refund rfd_…"
}

// timelineSource is an object whose events go on a timeline.
type timelineSource struct {
	ID string
	Of string // empty for the page's own object
}

// timeline returns the events of the sources, oldest first.
func (h *Handler) timeline(ctx context.Context, sources ...timelineSource) ([]timelineEntry, error) {
	var out []timelineEntry
	for _, src := range sources {
		if src.ID == "" {
			continue
		}
		events, err := h.store.FindTimeline(ctx, src.ID)
		if err != nil {
			return nil, err
		}
		for _, e := range events {
			out = append(out, timelineEntry{TimelineEntry: e, Of: src.Of})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out, nil
}

func (e timelineEntry) Label() string {
	switch {
	case e.Direction == autodebit.TimelineOut:
		return "→ Antom " + strings.TrimPrefix(e.Kind, "antom.")
	case e.Direction == autodebit.TimelineIn:
		return "← Antom " + strings.ReplaceAll(e.Kind, ".", " ")
	}
	if e.Response != "" {
		return "State: " + e.Response
	}
	return "State change"
}

// Outcome is the status an inquiry found: the paymentStatus of an
// inquiryPayment's response or the refundStatus of an inquiryRefund's, such
// as PROCESSING. The call's own result (S SUCCESS) only says the inquiry
// worked, and read alone it looks like a paid charge. Empty for other
// events and for a response without the field.
func (e timelineEntry) Outcome() string {
	var field string
	switch e.Kind {
	case "antom." + antom.APIInquiryPayment:
		field = "paymentStatus"
	case "antom." + antom.APIInquiryRefund:
		field = "refundStatus"
	default:
		return ""
	}
	var body map[string]any
	if json.Unmarshal([]byte(e.Response), &body) != nil {
		return ""
	}
	s, _ := body[field].(string)
	return s
}

// OutcomeOf names what Outcome is the status of: "payment" or "refund".
func (e timelineEntry) OutcomeOf() string {
	if e.Kind == "antom."+antom.APIInquiryRefund {
		return "refund"
	}
	return "payment"
}
