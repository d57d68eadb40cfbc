package antomsim

import (
	"fmt"
	"slices"
	"time"

	"github.com/autodebit/autodebit/antom"
)

// resultMessages are the resultMessage texts of the codes the simulator
// sends.
var resultMessages = map[string]string{
	antom.CodeSuccess:                "success.",
	antom.CodePaymentInProcess:       "payment in process",
	antom.CodeUnknownException:       "An API calling is failed, which is caused by unknown reasons.",
	antom.CodeParamIllegal:           "Illegal parameters exist.",
	antom.CodeInvalidSignature:       "The signature is invalid.",
	antom.CodeClientInvalid:          "The client is invalid.",
	antom.CodeNoInterfaceDef:         "API is not defined.",
	antom.CodeMethodNotSupported:     "The server does not implement the requested HTTP method.",
	antom.CodeMediaTypeNotAcceptable: "The server does not implement the media type that is acceptable to the client.",
	antom.CodeInvalidCode:            "The authorization code is invalid.",
	antom.CodeExpiredCode:            "The authorization code has expired.",
	antom.CodeUsedCode:               "The authorization code has been used.",
	antom.CodeInvalidRefreshToken:    "The refresh token is invalid.",
	antom.CodeExpiredRefreshToken:    "The refresh token has expired.",
	antom.CodeInvalidAccessToken:     "The access token is invalid: expired, revoked or unknown.",
	antom.CodeUserBalanceNotEnough:   "The user balance is not enough for the payment.",
	antom.CodeCurrencyNotSupport:     "The currency is not supported.",
	CodePaymentAmountExceedLimit:     "The payment amount exceeds the limit.",
	antom.CodeRepeatReqInconsistent:  "The repeated request is inconsistent with the original one.",
	antom.CodeOrderIsClosed:          "The order is closed.",
	CodeOrderIsCanceled:              "The order is cancelled.",
	antom.CodeOrderNotExist:          "The order does not exist.",
	antom.CodeOrderStatusInvalid:     "The order status is invalid.",
	antom.CodeCancelWindowExceed:     "The cancellation window has passed.",
	antom.CodeRefundAmountExceed:     "The total refund amount exceeds the payment amount.",
	antom.CodeRefundWindowExceed:     "The refund window has passed.",
	antom.CodeRefundNotExist:         "The refund does not exist.",
	antom.CodeSystemError:            "A system error occurred.",
}

// unknownCodes are the codes whose resultStatus is U.
var unknownCodes = map[string]bool{
	antom.CodePaymentInProcess: true, antom.CodeUnknownException: true, antom.CodeRefundInProcess: true,
	"REQUEST_TRAFFIC_EXCEED_LIMIT": true,
}

// result builds a result object for code (before Config.Codes renaming),
// with msg or the code's usual message.
func (s *Sim) result(code, msg string) antom.Result {
	status := antom.StatusFail
	switch {
	case code == antom.CodeSuccess:
		status = antom.StatusSuccess
	case unknownCodes[code]:
		status = antom.StatusUnknown
	}
	if msg == "" {
		msg = resultMessages[code]
	}
	if msg == "" {
		msg = code
	}
	if len(msg) > 256 {
		msg = msg[:253] + "..."
	}
	return antom.Result{ResultCode: s.code(code), ResultStatus: status, ResultMessage: msg}
}

// errorResponse is the body of a response that carries only a result.
type errorResponse struct {
	Result antom.Result `json:"result"`
}

func (s *Sim) fail(code, format string, args ...any) *errorResponse {
	msg := ""
	if format != "" {
		msg = fmt.Sprintf(format, args...)
	}
	return &errorResponse{Result: s.result(code, msg)}
}

func t(v time.Time) antom.Time { return antom.NewTime(v) }

// process runs one validated request and returns the response body.
// process answers one API request at the simulator's time now; sent is
// the request's own Request-Time (zero if unknown), against which the times
// it carries are judged.
func (s *Sim) process(req antom.Request, now, sent time.Time, baseURL string) any {
	defer s.changed()
	switch r := req.(type) {
	case *antom.ConsultRequest:
		return s.consult(r, now, baseURL)
	case *antom.ApplyTokenRequest:
		return s.applyToken(r, now)
	case *antom.RevokeRequest:
		return s.revoke(r, now)
	case *antom.PayRequest:
		return s.pay(r, now, sent)
	case *antom.InquiryPaymentRequest:
		return s.inquiryPayment(r)
	case *antom.CancelRequest:
		return s.cancel(r, now)
	case *antom.RefundRequest:
		return s.refund(r, now)
	case *antom.InquiryRefundRequest:
		return s.inquiryRefund(r)
	}
	return s.fail(antom.CodeNoInterfaceDef, "")
}

func (s *Sim) consult(req *antom.ConsultRequest, now time.Time, baseURL string) any {
	if !slices.Contains(req.Scopes, antom.ScopeAgreementPay) {
		return s.fail(antom.CodeParamIllegal, "scopes must contain AGREEMENT_PAY for Scan to Link")
	}
	notifyURL := req.AuthNotifyURL
	if notifyURL == "" {
		notifyURL = s.cfg.NotifyURL
	}
	s.mu.Lock()
	code := newQRCode()
	a := &authorization{Authorization: Authorization{
		QRCode: code, QRURL: baseURL + "/qr/" + code, AuthState: req.AuthState, Wallet: req.CustomerBelongsTo,
		Status: AuthPending, NotifyURL: notifyURL, CreateTime: now, ExpiryTime: now.Add(s.cfg.AuthorizationExpiry),
	}}
	s.st.auths[code] = a
	s.st.authList = append(s.st.authList, a)
	s.expireAt(a)
	s.mu.Unlock()
	return &antom.ConsultResponse{
		Result: s.result(antom.CodeSuccess, ""),
		AuthCodeForm: &antom.AuthCodeForm{CodeDetails: []antom.CodeDetail{
			{CodeValueType: "QRCODE", CodeValue: a.QRURL, DisplayType: "TEXT"},
			{CodeValueType: "QRCODE", CodeValue: a.QRURL + ".png", DisplayType: "BIGIMAGE"},
		}},
	}
}

func (s *Sim) applyToken(req *antom.ApplyTokenRequest, now time.Time) any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var auth *authorization
	var acct *account
	switch req.GrantType {
	case antom.GrantTypeAuthorizationCode:
		a := s.st.authCodes[req.AuthCode]
		switch {
		case a == nil || a.Wallet != req.CustomerBelongsTo:
			return s.fail(antom.CodeInvalidCode, "")
		case a.AuthCodeUsed && a.issued != nil && a.issued.Status == TokenActive && now.Before(a.AuthCodeExpiryTime):
			// A resend of the same request (its answer was lost): Antom's
			// guide says to resend with the same parameters, so it must get
			// the same token, not USED_CODE.
			return s.tokenResponse(a.issued)
		case a.AuthCodeUsed:
			return s.fail(antom.CodeUsedCode, "")
		case !now.Before(a.AuthCodeExpiryTime):
			return s.fail(antom.CodeExpiredCode, "")
		}
		a.AuthCodeUsed = true
		auth, acct = a, s.st.accounts[accountKey(a.Wallet, a.UserLoginID)]
	default: // REFRESH_TOKEN; Validate allows nothing else
		old := s.st.refresh[req.RefreshToken]
		switch {
		case old == nil || old.Wallet != req.CustomerBelongsTo || old.Status != TokenActive || old.RefreshTokenUsed:
			return s.fail(antom.CodeInvalidRefreshToken, "")
		case !now.Before(old.RefreshTokenExpiryTime):
			return s.fail(antom.CodeExpiredRefreshToken, "")
		}
		old.RefreshTokenUsed = true
		auth, acct = old.auth, old.acct
	}
	v := s.tokenValidity(auth.Wallet)
	tk := &token{Token: Token{
		AccessToken: "28101003" + s.st.hexID(16), Wallet: auth.Wallet, UserLoginID: acct.UserLoginID,
		AuthState: auth.AuthState, Status: TokenActive, CreateTime: now, AccessTokenExpiryTime: now.Add(v.AccessToken),
	}, acct: acct, auth: auth}
	if !v.NoRefreshToken {
		tk.RefreshToken = "28101004" + s.st.hexID(16)
		tk.RefreshTokenExpiryTime = now.Add(v.RefreshToken)
		s.st.refresh[tk.RefreshToken] = tk
	}
	s.st.tokens[tk.AccessToken] = tk
	s.st.tokenList = append(s.st.tokenList, tk)
	if req.GrantType == antom.GrantTypeAuthorizationCode {
		auth.issued = tk
	}
	return s.tokenResponse(tk)
}

// tokenResponse is the applyToken answer that issues tk.
func (s *Sim) tokenResponse(tk *token) *antom.ApplyTokenResponse {
	return &antom.ApplyTokenResponse{
		Result:                 s.result(antom.CodeSuccess, ""),
		AccessToken:            tk.AccessToken,
		AccessTokenExpiryTime:  t(tk.AccessTokenExpiryTime),
		RefreshToken:           tk.RefreshToken,
		RefreshTokenExpiryTime: t(tk.RefreshTokenExpiryTime),
		UserLoginID:            maskLogin(tk.acct.UserLoginID),
	}
}

func (s *Sim) revoke(req *antom.RevokeRequest, now time.Time) any {
	s.mu.Lock()
	defer s.mu.Unlock()
	tk := s.st.tokens[req.AccessToken]
	if tk == nil || !tk.usable(now) {
		return s.fail(antom.CodeInvalidAccessToken, "")
	}
	tk.Status, tk.EndTime = TokenRevoked, now
	if !s.cfg.NoRevokeNotification {
		s.tokenCanceled(tk, "", now)
	}
	return &antom.RevokeResponse{Result: s.result(antom.CodeSuccess, "")}
}

func payFingerprint(r *antom.PayRequest) string {
	return fmt.Sprintf("%s|%d|%s|%s|%s|%s|%d", r.PaymentAmount.Currency, r.PaymentAmount.Value,
		r.PaymentMethod.PaymentMethodType, r.PaymentMethod.PaymentMethodID, r.Order.ReferenceOrderID,
		r.Order.OrderAmount.Currency, r.Order.OrderAmount.Value)
}

// pay debits the buyer. A paymentExpiryTime is judged against the
// request's own Request-Time (sent), the merchant's clock, not against the
// simulator's: a merchant on real time then works against a simulator that
// runs fast or was advanced. The window it leaves (at most PaymentExpiry)
// is counted on the simulator's clock from now. Without a readable
// Request-Time the simulator's clock stands in for it.
func (s *Sim) pay(req *antom.PayRequest, now, sent time.Time) any {
	fp := payFingerprint(req)
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.st.payments[req.PaymentRequestID]; p != nil {
		if p.fingerprint != fp {
			return s.fail(antom.CodeRepeatReqInconsistent, "paymentRequestId %s was used with different parameters", req.PaymentRequestID)
		}
		return s.payResponse(p)
	}
	closeAt := now.Add(s.cfg.PaymentExpiry)
	if e := req.PaymentExpiryTime.Time; !e.IsZero() {
		if sent.IsZero() {
			sent = now
		}
		window := e.Sub(sent)
		if window <= 0 {
			return s.fail(antom.CodeParamIllegal, "paymentExpiryTime %s is not after the request's Request-Time %s", e.Format(time.RFC3339), sent.Format(time.RFC3339))
		}
		if window > s.cfg.PaymentExpiry+s.cfg.PaymentExpiryTolerance {
			return s.fail(antom.CodeParamIllegal, "paymentExpiryTime is more than %s after the request's Request-Time; Scan to Link allows at most %s", s.cfg.PaymentExpiry, s.cfg.PaymentExpiry)
		}
		closeAt = now.Add(window)
	}
	tk := s.st.tokens[req.PaymentMethod.PaymentMethodID]
	if tk == nil || !tk.usable(now) {
		return s.fail(antom.CodeInvalidAccessToken, "")
	}
	if tk.Wallet != req.PaymentMethod.PaymentMethodType {
		return s.fail(antom.CodeInvalidAccessToken, "the access token belongs to %s, not %s", tk.Wallet, req.PaymentMethod.PaymentMethodType)
	}
	notifyURL := req.PaymentNotifyURL
	if notifyURL == "" {
		notifyURL = s.cfg.NotifyURL
	}
	acct := tk.acct
	p := &payment{Payment: Payment{
		PaymentRequestID: req.PaymentRequestID, PaymentID: s.st.numericID(now, "1101"), Wallet: tk.Wallet,
		UserLoginID: acct.UserLoginID, AccessToken: tk.AccessToken, ReferenceOrderID: req.Order.ReferenceOrderID,
		Amount: req.PaymentAmount, Status: antom.PaymentStatusProcessing, ResultCode: antom.CodePaymentInProcess,
		Refunded: antom.Amount{Currency: req.PaymentAmount.Currency}, CreateTime: now, CloseTime: closeAt, NotifyURL: notifyURL,
	}, acct: acct, fingerprint: fp}
	s.st.payments[p.PaymentRequestID] = p
	s.st.paymentIDs[p.PaymentID] = p
	s.st.paymentList = append(s.st.paymentList, p)

	mode := acct.PayMode
	if mode == "" {
		mode = s.st.settings.PayMode
	}
	switch {
	case acct.FailCode != "":
		s.failPayment(p, acct.FailCode)
	case mode == PayModeProcessing:
		delay := time.Duration(acct.ProcessingDelay)
		if delay <= 0 {
			delay = s.cfg.ProcessingDelay
		}
		p.processingDue = now.Add(delay)
		s.completeAt(p, p.processingDue)
	case mode == PayModeStuck:
	default:
		s.complete(p, now)
	}
	if p.Status != antom.PaymentStatusSuccess {
		s.closeAt(p, closeAt)
	}
	if p.Status == antom.PaymentStatusSuccess || p.Status == antom.PaymentStatusFail {
		p.answered, p.answeredCode = p.Status, p.ResultCode
	}
	return s.payResponse(p)
}

// expireAt schedules the end of a consult's QR code. Callers hold s.mu.
func (s *Sim) expireAt(a *authorization) {
	s.at(a.ExpiryTime, func(time.Time) {
		if a.Status == AuthPending {
			a.Status = AuthExpired
		}
	})
}

// completeAt schedules the final result of a PROCESSING payment. Callers
// hold s.mu.
func (s *Sim) completeAt(p *payment, due time.Time) {
	s.at(due, func(at time.Time) {
		if p.Status == antom.PaymentStatusProcessing {
			s.complete(p, at)
		}
	})
}

// closeAt schedules the close of p's order. Callers hold s.mu.
func (s *Sim) closeAt(p *payment, due time.Time) {
	s.at(due, func(at time.Time) { s.closePayment(p, at) })
}

// complete debits the buyer, or fails the payment if the balance is short.
func (s *Sim) complete(p *payment, at time.Time) {
	if p.acct.Balance < p.Amount.Value {
		s.failPayment(p, antom.CodeUserBalanceNotEnough)
		return
	}
	p.acct.Balance -= p.Amount.Value
	p.Debits++
	p.Status, p.ResultCode, p.PaymentTime = antom.PaymentStatusSuccess, antom.CodeSuccess, at
	s.notifyPayment(p, at)
}

// failPayment marks p failed; notifyPayment follows when the order closes.
func (s *Sim) failPayment(p *payment, code string) {
	p.Status, p.ResultCode = antom.PaymentStatusFail, code
}

// closePayment runs at the order's expiry: an unfinished payment fails
// with ORDER_IS_CLOSED, and a failed one is notified.
func (s *Sim) closePayment(p *payment, at time.Time) {
	if p.Status == antom.PaymentStatusProcessing {
		s.failPayment(p, antom.CodeOrderIsClosed)
	}
	if p.Status == antom.PaymentStatusFail && !p.failNotified {
		p.failNotified = true
		s.notifyPayment(p, at)
	}
}

func (s *Sim) notifyPayment(p *payment, at time.Time) {
	n := &antom.PaymentNotification{
		NotifyType:        antom.NotifyTypePaymentResult,
		Result:            s.result(p.ResultCode, ""),
		PaymentRequestID:  p.PaymentRequestID,
		PaymentID:         p.PaymentID,
		PaymentAmount:     p.Amount,
		PaymentCreateTime: t(p.CreateTime),
	}
	if p.Status == antom.PaymentStatusSuccess {
		n.PaymentTime = t(p.PaymentTime)
	}
	s.notify(antom.KindPayment, antom.NotifyTypePaymentResult, p.PaymentRequestID, p.NotifyURL, n, at)
}

// payResponse answers pay for p. A repeat of a request whose first answer
// was final gets that answer again; otherwise the current state.
func (s *Sim) payResponse(p *payment) any {
	status, code := p.Status, p.ResultCode
	if p.answered != "" {
		status, code = p.answered, p.answeredCode
	}
	r := &antom.PayResponse{PaymentRequestID: p.PaymentRequestID, PaymentID: p.PaymentID}
	switch status {
	case antom.PaymentStatusSuccess:
		r.Result = s.result(antom.CodeSuccess, "")
		amt := p.Amount
		r.PaymentAmount, r.PaymentCreateTime, r.PaymentTime = &amt, t(p.CreateTime), t(p.PaymentTime)
	case antom.PaymentStatusProcessing:
		r.Result = s.result(antom.CodePaymentInProcess, "")
		amt := p.Amount
		r.PaymentAmount, r.PaymentCreateTime = &amt, t(p.CreateTime)
	case antom.PaymentStatusCancelled:
		r.Result = s.result(CodeOrderIsCanceled, "")
	default:
		r.Result = s.result(code, "")
	}
	return r
}

func (s *Sim) findPayment(paymentID, paymentRequestID string) *payment {
	if paymentID != "" {
		return s.st.paymentIDs[paymentID]
	}
	return s.st.payments[paymentRequestID]
}

func (s *Sim) inquiryPayment(req *antom.InquiryPaymentRequest) any {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.findPayment(req.PaymentID, req.PaymentRequestID)
	if p == nil {
		return s.fail(antom.CodeOrderNotExist, "")
	}
	amt := p.Amount
	r := &antom.InquiryPaymentResponse{
		Result:           s.result(antom.CodeSuccess, ""),
		PaymentStatus:    p.Status,
		PaymentRequestID: p.PaymentRequestID, PaymentID: p.PaymentID,
		PaymentAmount: &amt, PaymentCreateTime: t(p.CreateTime),
	}
	code := p.ResultCode
	if p.Status == antom.PaymentStatusCancelled {
		code = CodeOrderIsCanceled
	}
	pr := s.result(code, "")
	r.PaymentResultCode, r.PaymentResultMessage = pr.ResultCode, pr.ResultMessage
	if p.Status == antom.PaymentStatusSuccess {
		r.PaymentTime = t(p.PaymentTime)
	}
	if !p.PaymentTime.IsZero() {
		ok := s.result(antom.CodeSuccess, "")
		amt := p.Amount
		r.Transactions = append(r.Transactions, antom.Transaction{TransactionResult: &ok, TransactionID: p.PaymentID,
			TransactionType: "PAYMENT", TransactionStatus: "SUCCESS", TransactionAmount: &amt,
			TransactionRequestID: p.PaymentRequestID, TransactionTime: t(p.PaymentTime)})
	}
	for _, f := range p.refunds {
		ok := s.result(antom.CodeSuccess, "")
		amt := f.Amount
		r.Transactions = append(r.Transactions, antom.Transaction{TransactionResult: &ok, TransactionID: f.RefundID,
			TransactionType: "REFUND", TransactionStatus: f.Status, TransactionAmount: &amt,
			TransactionRequestID: f.RefundRequestID, TransactionTime: t(f.RefundTime)})
	}
	return r
}

// cancelDeadline is the end of p's cancel window.
func (s *Sim) cancelDeadline(created time.Time) time.Time {
	if s.cfg.CancelWindow > 0 {
		return created.Add(s.cfg.CancelWindow)
	}
	cst := created.In(time.FixedZone("UTC+8", 8*3600))
	y, m, d := cst.Date()
	return time.Date(y, m, d+1, 0, 15, 0, 0, cst.Location())
}

func (s *Sim) cancel(req *antom.CancelRequest, now time.Time) any {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.findPayment(req.PaymentID, req.PaymentRequestID)
	if p == nil {
		return s.fail(antom.CodeOrderNotExist, "")
	}
	if p.Status != antom.PaymentStatusCancelled && now.After(s.cancelDeadline(p.CreateTime)) {
		return s.fail(antom.CodeCancelWindowExceed, "")
	}
	switch p.Status {
	case antom.PaymentStatusProcessing:
		p.Status, p.CancelTime = antom.PaymentStatusCancelled, now
	case antom.PaymentStatusSuccess:
		back := p.Amount.Value - p.Refunded.Value
		p.acct.Balance += back
		p.Refunded.Value += back
		p.Status, p.CancelTime = antom.PaymentStatusCancelled, now
	case antom.PaymentStatusFail:
		// Already closed without money moving: cancelling succeeds and
		// changes nothing.
	}
	ct := p.CancelTime
	if ct.IsZero() {
		ct = now
	}
	return &antom.CancelResponse{Result: s.result(antom.CodeSuccess, ""), PaymentID: p.PaymentID,
		PaymentRequestID: p.PaymentRequestID, CancelTime: t(ct)}
}

func (s *Sim) refundResponse(f *refund) any {
	amt := f.Amount
	return &antom.RefundResponse{Result: s.result(antom.CodeSuccess, ""), RefundRequestID: f.RefundRequestID,
		RefundID: f.RefundID, PaymentID: f.PaymentID, RefundAmount: &amt, RefundTime: t(f.RefundTime)}
}

func (s *Sim) refund(req *antom.RefundRequest, now time.Time) any {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f := s.st.refunds[req.RefundRequestID]; f != nil {
		if f.PaymentID != req.PaymentID || f.Amount != req.RefundAmount {
			return s.fail(antom.CodeRepeatReqInconsistent, "refundRequestId %s was used with different parameters", req.RefundRequestID)
		}
		return s.refundResponse(f)
	}
	p := s.st.paymentIDs[req.PaymentID]
	switch {
	case p == nil:
		return s.fail(antom.CodeOrderNotExist, "")
	case p.Status != antom.PaymentStatusSuccess:
		return s.fail(antom.CodeOrderStatusInvalid, "the payment is %s; only a successful payment can be refunded", p.Status)
	case req.RefundAmount.Currency != p.Amount.Currency:
		return s.fail(antom.CodeCurrencyNotSupport, "refundAmount.currency must be %s, the payment's currency", p.Amount.Currency)
	case p.Refunded.Value+req.RefundAmount.Value > p.Amount.Value:
		return s.fail(antom.CodeRefundAmountExceed, "")
	case now.After(p.PaymentTime.Add(s.cfg.RefundWindow)):
		return s.fail(antom.CodeRefundWindowExceed, "")
	}
	notifyURL := req.RefundNotifyURL
	if notifyURL == "" {
		notifyURL = s.cfg.NotifyURL
	}
	f := &refund{Refund{RefundRequestID: req.RefundRequestID, RefundID: s.st.numericID(now, "1201"), PaymentID: p.PaymentID,
		Amount: req.RefundAmount, Status: antom.RefundStatusSuccess, RefundTime: now, NotifyURL: notifyURL}}
	p.acct.Balance += f.Amount.Value
	p.Refunded.Value += f.Amount.Value
	p.refunds = append(p.refunds, f)
	s.st.refunds[f.RefundRequestID] = f
	s.st.refundIDs[f.RefundID] = f
	s.st.refundList = append(s.st.refundList, f)
	s.notify(antom.KindRefund, antom.NotifyTypeRefundResult, f.RefundRequestID, notifyURL, &antom.RefundNotification{
		NotifyType: antom.NotifyTypeRefundResult, Result: s.result(antom.CodeSuccess, ""), RefundStatus: f.Status,
		RefundRequestID: f.RefundRequestID, RefundID: f.RefundID, RefundAmount: f.Amount, RefundTime: t(f.RefundTime),
	}, now)
	return s.refundResponse(f)
}

func (s *Sim) inquiryRefund(req *antom.InquiryRefundRequest) any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var f *refund
	if req.RefundID != "" {
		f = s.st.refundIDs[req.RefundID]
	} else {
		f = s.st.refunds[req.RefundRequestID]
	}
	if f == nil {
		return s.fail(antom.CodeRefundNotExist, "")
	}
	amt := f.Amount
	return &antom.InquiryRefundResponse{Result: s.result(antom.CodeSuccess, ""), RefundID: f.RefundID,
		RefundRequestID: f.RefundRequestID, RefundAmount: &amt, RefundStatus: f.Status, RefundTime: t(f.RefundTime)}
}
