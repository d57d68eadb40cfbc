package console

import (
	"net/http"

	"github.com/autodebit/autodebit"
)

type healthView struct {
	Clock             *clockView // simulator mode only
	Backlog           *autodebit.Backlog
	OpenCharges       []*autodebit.Charge
	ProcessingRefunds []*autodebit.Refund
	FailedAuths       []*autodebit.Authorization
	FailedCharges     []*autodebit.Charge
}

// healthPage shows the open work and recent failures, all from the store.
func (h *Handler) healthPage(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	v := healthView{Clock: h.clockView()}
	var err error
	if v.Backlog, err = h.store.FindBacklog(ctx); err != nil {
		return err
	}
	if v.OpenCharges, _, err = h.store.FindCharges(ctx, autodebit.ChargeFilter{Status: autodebit.ChargeInit, Limit: 50}); err != nil {
		return err
	}
	if v.ProcessingRefunds, _, err = h.store.FindRefunds(ctx, autodebit.RefundFilter{Status: autodebit.RefundProcessing, Limit: 50}); err != nil {
		return err
	}
	if v.FailedAuths, _, err = h.store.FindAuthorizations(ctx, autodebit.AuthorizationFilter{Status: autodebit.AuthorizationFailed, Limit: 10}); err != nil {
		return err
	}
	if v.FailedCharges, _, err = h.store.FindCharges(ctx, autodebit.ChargeFilter{Status: autodebit.ChargeFail, Limit: 10}); err != nil {
		return err
	}
	h.render(w, r, http.StatusOK, "health", "Health", v)
	return nil
}
