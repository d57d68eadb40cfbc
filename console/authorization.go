package console

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/autodebit/autodebit"
	"github.com/autodebit/autodebit/engine"
	adhttp "github.com/autodebit/autodebit/http"
)

type linkView struct {
	CustomerID string
	Wallet     string
	Message    string
	Customers  []string                   // known customers, for the picker
	Recent     []*autodebit.Authorization // the latest attempts
}

func (h *Handler) linkPage(w http.ResponseWriter, r *http.Request) error {
	v := linkView{CustomerID: r.URL.Query().Get("customer"), Wallet: r.URL.Query().Get("wallet")}
	return h.renderLink(w, r, http.StatusOK, v)
}

func (h *Handler) renderLink(w http.ResponseWriter, r *http.Request, status int, v linkView) error {
	recent, _, err := h.store.FindAuthorizations(r.Context(), autodebit.AuthorizationFilter{Limit: 10})
	if err != nil {
		return err
	}
	v.Recent = recent
	if v.Customers, err = h.customers(r); err != nil {
		return err
	}
	h.render(w, r, status, "link", "Link a wallet", v)
	return nil
}

// customers returns the customer IDs seen on recent authorizations.
func (h *Handler) customers(r *http.Request) ([]string, error) {
	auths, _, err := h.store.FindAuthorizations(r.Context(), autodebit.AuthorizationFilter{Limit: 200})
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []string
	for _, a := range auths {
		if !seen[a.CustomerID] {
			seen[a.CustomerID] = true
			out = append(out, a.CustomerID)
		}
	}
	return out, nil
}

// createAuthorization starts a linking attempt; "start again" posts here too,
// and every post is a new attempt with a new authState.
func (h *Handler) createAuthorization(w http.ResponseWriter, r *http.Request) error {
	v := linkView{CustomerID: strings.TrimSpace(r.PostForm.Get("customerId")), Wallet: r.PostForm.Get("wallet")}
	switch {
	case v.CustomerID == "":
		v.Message = "Enter the customer ID: your reference for the buyer."
	case v.Wallet == "":
		v.Message = "Choose the buyer's wallet."
	}
	if v.Message != "" {
		return h.renderLink(w, r, http.StatusBadRequest, v)
	}
	a, err := h.engine.CreateAuthorization(r.Context(), v.CustomerID, v.Wallet)
	if err != nil {
		if !formError(err) {
			return err
		}
		v.Message = autodebit.ErrorMessage(err)
		return h.renderLink(w, r, adhttp.StatusCode(err), v)
	}
	return redirect(w, r, "/authorizations/"+a.ID)
}

type authorizationView struct {
	A        *autodebit.Authorization
	ImageURL string
	Steps    []step
}

type step struct {
	Name  string
	State string // done, current, failed or todo
}

// steps shows where an authorization is on PENDING → AUTHORIZED → ACTIVE.
func steps(s autodebit.AuthorizationStatus) []step {
	names := []string{"PENDING", "AUTHORIZED", "ACTIVE"}
	at := map[autodebit.AuthorizationStatus]int{autodebit.AuthorizationPending: 0, autodebit.AuthorizationAuthorized: 1, autodebit.AuthorizationActive: 2}
	out := make([]step, len(names))
	cur, ok := at[s]
	for i, n := range names {
		out[i] = step{Name: n, State: "todo"}
		switch {
		case ok && i < cur, s == autodebit.AuthorizationActive && i == cur:
			out[i].State = "done"
		case ok && i == cur:
			out[i].State = "current"
		}
	}
	return out
}

func (h *Handler) authorizationPage(w http.ResponseWriter, r *http.Request) error {
	a, err := h.store.FindAuthorizationByID(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	v := authorizationView{A: a, Steps: steps(a.Status)}
	if a.QRText != "" {
		v.ImageURL = engine.QRImagePath(a.ID)
	}
	h.render(w, r, http.StatusOK, "authorization", "Link "+walletName(a.Wallet)+" for "+a.CustomerID, v)
	return nil
}

// authorizationStatus is the small JSON the link page polls.
func (h *Handler) authorizationStatus(w http.ResponseWriter, r *http.Request) error {
	a, err := h.store.FindAuthorizationByID(r.Context(), r.PathValue("id"))
	if err != nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(adhttp.StatusCode(err))
		return json.NewEncoder(w).Encode(map[string]string{"error": autodebit.ErrorMessage(err)})
	}
	w.Header().Set("Content-Type", "application/json")
	return json.NewEncoder(w).Encode(map[string]any{
		"status": a.Status, "final": a.Status.Final(), "tokenId": a.TokenID,
		"failureCode": a.FailureCode, "failureMessage": a.FailureMessage,
	})
}
