package console

import (
	"net/http"
	"slices"
	"time"

	"github.com/autodebit/autodebit"
	"github.com/autodebit/autodebit/clock"
	adhttp "github.com/autodebit/autodebit/http"
)

// clockSteps are the advances the clock control offers: value, label.
var clockSteps = [][2]string{{"1h", "1 hour"}, {"1d", "1 day"}, {"30d", "30 days"}}

// clockView is the clock control on the Health page, in simulator mode.
type clockView struct {
	Now   time.Time
	Scale float64
	Steps [][2]string
}

// clockNow is the payments' time: the one clock in simulator mode, which the
// pages count ages and waits on; sessions and login limits stay on NowFunc.
func (h *Handler) clockNow() time.Time {
	if h.cfg.Clock != nil {
		return h.cfg.Clock.Clock.Now()
	}
	return h.now()
}

func (h *Handler) clockView() *clockView {
	if h.cfg.Clock == nil {
		return nil
	}
	c := h.cfg.Clock.Clock
	return &clockView{Now: c.Now(), Scale: c.Scale(), Steps: clockSteps}
}

// advanceClock moves the one clock by one of clockSteps, as POST
// /v1/clock/advance does, and shows Health once what fell due has run.
func (h *Handler) advanceClock(w http.ResponseWriter, r *http.Request) error {
	by := r.PostForm.Get("by")
	if !slices.ContainsFunc(clockSteps, func(s [2]string) bool { return s[0] == by }) {
		return autodebit.Errorf(autodebit.EINVALID, "The clock advances by 1h, 1d or 30d, not %q.", by)
	}
	d, err := clock.ParseDuration(by)
	if err != nil {
		return autodebit.Errorf(autodebit.EINVALID, "Advance by %q: %v.", by, err)
	}
	if _, err := adhttp.AdvanceClock(r.Context(), h.cfg.Clock, d, adhttp.DefaultAdvanceTimeout); err != nil {
		return err
	}
	return redirect(w, r, "/health?notice=clock-advanced")
}
