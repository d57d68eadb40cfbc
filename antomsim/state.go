package antomsim

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/autodebit/autodebit/antom"
)

// Pay modes of an account: how pay behaves for its tokens.
const (
	// PayModeInstant answers pay with the final result at once (the default).
	PayModeInstant = "instant"
	// PayModeProcessing answers pay with U PAYMENT_IN_PROCESS and reaches
	// the final result after the account's ProcessingDelay (or closes with
	// FAIL ORDER_IS_CLOSED if the order expires first).
	PayModeProcessing = "processing"
	// PayModeStuck answers U PAYMENT_IN_PROCESS and never finishes: the order
	// closes at its expiry with FAIL ORDER_IS_CLOSED.
	PayModeStuck = "stuck"
)

// Authorization statuses.
const (
	AuthPending  = "PENDING"  // QR code shown, waiting for the buyer
	AuthApproved = "APPROVED" // buyer approved; authCode issued
	AuthDenied   = "DENIED"   // buyer denied (Antom sends no notification)
	AuthExpired  = "EXPIRED"  // no buyer action within AuthorizationExpiry
)

// Token statuses.
const (
	TokenActive   = "ACTIVE"
	TokenRevoked  = "REVOKED"  // merchant revoke
	TokenCanceled = "CANCELED" // wallet-side cancel
)

// Result codes used by the simulator that package antom has no constant
// for.
const (
	CodePaymentAmountExceedLimit = "PAYMENT_AMOUNT_EXCEED_LIMIT"
	CodeOrderIsCanceled          = "ORDER_IS_CANCELED"
)

// Errors of the Go control methods. The control API maps them to HTTP 404,
// 409 and 410.
var (
	ErrNotFound = errors.New("antomsim: not found")
	ErrConflict = errors.New("antomsim: conflict")
	ErrExpired  = errors.New("antomsim: expired")
	ErrInvalid  = errors.New("antomsim: invalid input")
)

func errorf(sentinel error, format string, args ...any) error {
	return fmt.Errorf("%w: %s", sentinel, fmt.Sprintf(format, args...))
}

// Duration is a time.Duration that reads and writes JSON as a Go duration
// string ("1m30s").
type Duration time.Duration

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads a duration string such as "90s" or "24h".
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration must be a string such as \"90s\", got %s", b)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration %q: want a Go duration such as \"90s\" or \"24h\"", s)
	}
	if v < 0 {
		return fmt.Errorf("duration %q must not be negative", s)
	}
	*d = Duration(v)
	return nil
}

// Account is a buyer's wallet account.
type Account struct {
	// Wallet is the wallet code, e.g. "GCASH". Required.
	Wallet string `json:"wallet"`
	// UserLoginID is the buyer's login (phone or e-mail), unique per wallet.
	// Required, at most 64 characters.
	UserLoginID string `json:"userLoginId"`
	// Balance is in minor units of Currency; JSON writes it as a string.
	Balance int64 `json:"balance,string"`
	// Currency is the wallet's currency; set by the simulator.
	Currency string `json:"currency"`
	// PayMode is one of the PayMode constants. Empty means the simulator's
	// setting (PayModeInstant unless changed with SetSettings).
	PayMode string `json:"payMode,omitempty"`
	// ProcessingDelay is how long a PayModeProcessing payment stays
	// PROCESSING. Zero means Config.ProcessingDelay.
	ProcessingDelay Duration `json:"processingDelay,omitzero"`
	// FailCode, when set, makes every payment of the account fail with this
	// result code (e.g. "RISK_REJECT").
	FailCode string `json:"failCode,omitempty"`
}

// AccountUpdate changes the fields of an account that are set.
type AccountUpdate struct {
	Balance         *int64    `json:"balance,string,omitempty"`
	PayMode         *string   `json:"payMode,omitempty"`
	ProcessingDelay *Duration `json:"processingDelay,omitempty"`
	FailCode        *string   `json:"failCode,omitempty"`
}

// defaultLogins are the login IDs of DefaultAccounts, by wallet.
var defaultLogins = map[string]string{
	"ALIPAY_CN": "15512343370", "ALIPAY_HK": "85261234567", "DANA": "6281234567890",
	"GCASH": "09171234567", "KAKAOPAY": "01012345678", "TNG": "60123456789", "TRUEMONEY": "0812345678",
}

// DefaultAccounts returns one account per Scan to Link wallet, each with
// balance major units of the wallet's currency.
func DefaultAccounts(balance int64) []Account {
	var out []Account
	for _, w := range antom.Wallets() {
		out = append(out, Account{Wallet: w.Code, UserLoginID: defaultLogins[w.Code], Balance: majorToMinor(balance, w.Currency)})
	}
	return out
}

func majorToMinor(v int64, currency string) int64 {
	exp, _ := antom.CurrencyExponent(currency)
	for range exp {
		v *= 10
	}
	return v
}

// Authorization is one consult: its QR code and what the buyer did.
type Authorization struct {
	QRCode             string    `json:"qrCode"`
	QRURL              string    `json:"qrUrl"`
	AuthState          string    `json:"authState"`
	Wallet             string    `json:"wallet"`
	Status             string    `json:"status"`
	NotifyURL          string    `json:"notifyUrl,omitempty"`
	UserLoginID        string    `json:"userLoginId,omitempty"`
	AuthCode           string    `json:"authCode,omitempty"`
	AuthCodeUsed       bool      `json:"authCodeUsed"`
	CreateTime         time.Time `json:"createTime"`
	ExpiryTime         time.Time `json:"expiryTime"`
	ActionTime         time.Time `json:"actionTime,omitzero"`
	AuthCodeExpiryTime time.Time `json:"authCodeExpiryTime,omitzero"`
}

// Token is an access token with its refresh token.
type Token struct {
	AccessToken            string    `json:"accessToken"`
	RefreshToken           string    `json:"refreshToken,omitempty"`
	Wallet                 string    `json:"wallet"`
	UserLoginID            string    `json:"userLoginId"`
	AuthState              string    `json:"authState"`
	Status                 string    `json:"status"`
	RefreshTokenUsed       bool      `json:"refreshTokenUsed"`
	CreateTime             time.Time `json:"createTime"`
	AccessTokenExpiryTime  time.Time `json:"accessTokenExpiryTime"`
	RefreshTokenExpiryTime time.Time `json:"refreshTokenExpiryTime,omitzero"`
	EndTime                time.Time `json:"endTime,omitzero"`
	Reason                 string    `json:"reason,omitempty"`
}

// Payment is the truth about one pay: its status and how many times money
// moved.
type Payment struct {
	PaymentRequestID string       `json:"paymentRequestId"`
	PaymentID        string       `json:"paymentId"`
	Wallet           string       `json:"wallet"`
	UserLoginID      string       `json:"userLoginId"`
	AccessToken      string       `json:"accessToken"`
	ReferenceOrderID string       `json:"referenceOrderId"`
	Amount           antom.Amount `json:"amount"`
	// Status is PROCESSING, SUCCESS, FAIL or CANCELLED (antom.PaymentStatus*).
	Status     string `json:"status"`
	ResultCode string `json:"resultCode"`
	// Debits is how many times the buyer was debited: 0 or 1. A value
	// above 1 would be a simulator bug.
	Debits int `json:"debits"`
	// Refunded is the money given back: refunds plus a cancel's return.
	Refunded   antom.Amount `json:"refunded"`
	CreateTime time.Time    `json:"createTime"`
	CloseTime  time.Time    `json:"closeTime"`
	// PaymentTime is when the money moved (SUCCESS, or CANCELLED after it).
	PaymentTime time.Time `json:"paymentTime,omitzero"`
	CancelTime  time.Time `json:"cancelTime,omitzero"`
	NotifyURL   string    `json:"notifyUrl,omitempty"`
	Refunds     []Refund  `json:"refunds,omitempty"`
}

// Refund is the truth about one refund.
type Refund struct {
	RefundRequestID string       `json:"refundRequestId"`
	RefundID        string       `json:"refundId"`
	PaymentID       string       `json:"paymentId"`
	Amount          antom.Amount `json:"amount"`
	Status          string       `json:"status"`
	RefundTime      time.Time    `json:"refundTime"`
	NotifyURL       string       `json:"notifyUrl,omitempty"`
}

type account struct {
	Account
}

type authorization struct {
	Authorization
	// issued is the token the authCode was exchanged for, so that a resend
	// of the same applyToken request gets the same token.
	issued *token
}

type token struct {
	Token
	acct *account
	auth *authorization
}

type payment struct {
	Payment
	acct         *account
	fingerprint  string
	answered     string // status of the first answer if it was final
	answeredCode string
	failNotified bool
	// processingDue is when a PayModeProcessing payment gets its final
	// result (zero for the other modes).
	processingDue time.Time
	refunds       []*refund
}

type refund struct {
	Refund
}

// state is the simulator's state, guarded by Sim.mu.
type state struct {
	rng         *rand.ChaCha8
	idSeq       uint64
	accounts    map[string]*account
	accountList []*account
	auths       map[string]*authorization // by QR code
	authCodes   map[string]*authorization
	authList    []*authorization
	tokens      map[string]*token // by access token
	refresh     map[string]*token
	tokenList   []*token
	payments    map[string]*payment // by paymentRequestId
	paymentIDs  map[string]*payment
	paymentList []*payment
	refunds     map[string]*refund // by refundRequestId
	refundIDs   map[string]*refund
	refundList  []*refund
	notifs      []*notification
	notifSeq    uint64
	events      eventHeap
	evSeq       uint64
	faults      Faults
	faultRolls  map[string]uint64
	faultUsed   map[string]int
	faultHits   map[string]int // applied faults by "api.KIND" / "notify.KIND"
	held        []*attempt
	settings    Settings
}

func (st *state) init(seed int64) {
	var s [32]byte
	binary.LittleEndian.PutUint64(s[:], uint64(seed))
	copy(s[8:], "antomsim-ids")
	st.rng = rand.NewChaCha8(s)
	st.accounts = map[string]*account{}
	st.auths = map[string]*authorization{}
	st.authCodes = map[string]*authorization{}
	st.tokens = map[string]*token{}
	st.refresh = map[string]*token{}
	st.payments = map[string]*payment{}
	st.paymentIDs = map[string]*payment{}
	st.refunds = map[string]*refund{}
	st.refundIDs = map[string]*refund{}
	st.faultRolls = map[string]uint64{}
	st.faultUsed = map[string]int{}
	st.faultHits = map[string]int{}
	st.settings = Settings{PayMode: PayModeInstant}
}

// hexID returns n random bytes from the seeded generator, in upper-case hex.
func (st *state) hexID(n int) string {
	b := make([]byte, n)
	st.rng.Read(b)
	return strings.ToUpper(hex.EncodeToString(b))
}

// numericID returns a 30-digit ID in the style of Antom's paymentId.
func (st *state) numericID(at time.Time, kind string) string {
	st.idSeq++
	return at.Format("20060102150405") + kind + fmt.Sprintf("%012d", st.idSeq)
}

func accountKey(wallet, login string) string { return wallet + "/" + login }

// maskLogin masks a login ID the way wallets show it: 155****3370,
// al***@example.com.
func maskLogin(s string) string {
	if local, domain, ok := strings.Cut(s, "@"); ok {
		r := []rune(local)
		if len(r) > 2 {
			r = r[:2]
		}
		return string(r) + "***@" + domain
	}
	r := []rune(s)
	if len(r) >= 8 {
		return string(r[:3]) + "****" + string(r[len(r)-4:])
	}
	if len(r) > 1 {
		return string(r[:1]) + "***"
	}
	return "***"
}

// Settings are simulator-wide behaviours that the control API can change.
type Settings struct {
	// PayMode is the pay mode of accounts that set none. Empty means
	// PayModeInstant.
	PayMode string `json:"payMode"`
}

func checkPayMode(m string) error {
	switch m {
	case "", PayModeInstant, PayModeProcessing, PayModeStuck:
		return nil
	}
	return errorf(ErrInvalid, "payMode %q is not one of %q, %q, %q", m, PayModeInstant, PayModeProcessing, PayModeStuck)
}

// SetSettings replaces the settings.
func (s *Sim) SetSettings(v Settings) error {
	if err := checkPayMode(v.PayMode); err != nil {
		return err
	}
	if v.PayMode == "" {
		v.PayMode = PayModeInstant
	}
	s.mu.Lock()
	s.st.settings = v
	s.mu.Unlock()
	s.changed()
	return nil
}

// Settings returns the settings.
func (s *Sim) Settings() Settings {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st.settings
}

// CreateAccount adds a wallet account. Currency is set from the wallet.
// It returns ErrInvalid for a bad field and ErrConflict if the account
// exists.
func (s *Sim) CreateAccount(a Account) (Account, error) {
	w, ok := antom.LookupWallet(a.Wallet)
	if !ok {
		return Account{}, errorf(ErrInvalid, "wallet %q is not a Scan to Link wallet", a.Wallet)
	}
	if a.UserLoginID == "" || utf8.RuneCountInString(a.UserLoginID) > 64 || strings.ContainsAny(a.UserLoginID, "/?#") {
		return Account{}, errorf(ErrInvalid, "userLoginId must be 1 to 64 characters without / ? #")
	}
	if a.Currency != "" && a.Currency != w.Currency {
		return Account{}, errorf(ErrInvalid, "currency %q: %s accounts are in %s", a.Currency, w.Code, w.Currency)
	}
	if a.Balance < 0 {
		return Account{}, errorf(ErrInvalid, "balance must not be negative")
	}
	if err := checkPayMode(a.PayMode); err != nil {
		return Account{}, err
	}
	if a.FailCode != "" && !isCode(a.FailCode) {
		return Account{}, errorf(ErrInvalid, "failCode %q must be an upper-case result code", a.FailCode)
	}
	a.Currency = w.Currency
	s.mu.Lock()
	defer s.mu.Unlock()
	k := accountKey(a.Wallet, a.UserLoginID)
	if s.st.accounts[k] != nil {
		return Account{}, errorf(ErrConflict, "account %s exists", k)
	}
	acct := &account{a}
	s.st.accounts[k] = acct
	s.st.accountList = append(s.st.accountList, acct)
	s.changed()
	return a, nil
}

func isCode(c string) bool {
	if c == "" || len(c) > 64 {
		return false
	}
	for _, r := range c {
		if (r < 'A' || r > 'Z') && r != '_' && (r < '0' || r > '9') {
			return false
		}
	}
	return true
}

// UpdateAccount changes an account. It returns ErrNotFound or ErrInvalid;
// on error nothing changes.
func (s *Sim) UpdateAccount(wallet, userLoginID string, u AccountUpdate) (Account, error) {
	if u.Balance != nil && *u.Balance < 0 {
		return Account{}, errorf(ErrInvalid, "balance must not be negative")
	}
	if u.PayMode != nil {
		if err := checkPayMode(*u.PayMode); err != nil {
			return Account{}, err
		}
	}
	if u.FailCode != nil && *u.FailCode != "" && !isCode(*u.FailCode) {
		return Account{}, errorf(ErrInvalid, "failCode %q must be an upper-case result code", *u.FailCode)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.st.accounts[accountKey(wallet, userLoginID)]
	if a == nil {
		return Account{}, errorf(ErrNotFound, "account %s/%s does not exist", wallet, userLoginID)
	}
	defer s.changed()
	if u.Balance != nil {
		a.Balance = *u.Balance
	}
	if u.PayMode != nil {
		a.PayMode = *u.PayMode
	}
	if u.ProcessingDelay != nil {
		a.ProcessingDelay = *u.ProcessingDelay
	}
	if u.FailCode != nil {
		a.FailCode = *u.FailCode
	}
	return a.Account, nil
}

// Account returns one account, or ErrNotFound.
func (s *Sim) Account(wallet, userLoginID string) (Account, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.st.accounts[accountKey(wallet, userLoginID)]
	if a == nil {
		return Account{}, errorf(ErrNotFound, "account %s/%s does not exist", wallet, userLoginID)
	}
	return a.Account, nil
}

// Accounts returns every account, in creation order.
func (s *Sim) Accounts() []Account {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Account, len(s.st.accountList))
	for i, a := range s.st.accountList {
		out[i] = a.Account
	}
	return out
}

// Authorizations returns every consult, oldest first.
func (s *Sim) Authorizations() []Authorization {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Authorization, len(s.st.authList))
	for i, a := range s.st.authList {
		out[i] = a.Authorization
	}
	return out
}

// Tokens returns every token, oldest first.
func (s *Sim) Tokens() []Token {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Token, len(s.st.tokenList))
	for i, t := range s.st.tokenList {
		out[i] = t.Token
	}
	return out
}

// Payments returns the truth about every payment, oldest first.
func (s *Sim) Payments() []Payment {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Payment, len(s.st.paymentList))
	for i, p := range s.st.paymentList {
		out[i] = p.export()
	}
	return out
}

// Payment returns the truth about one payment, by paymentRequestId, or
// ErrNotFound.
func (s *Sim) Payment(paymentRequestID string) (Payment, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.st.payments[paymentRequestID]
	if p == nil {
		return Payment{}, errorf(ErrNotFound, "payment %q does not exist", paymentRequestID)
	}
	return p.export(), nil
}

// Refunds returns every refund, oldest first.
func (s *Sim) Refunds() []Refund {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Refund, len(s.st.refundList))
	for i, r := range s.st.refundList {
		out[i] = r.Refund
	}
	return out
}

func (p *payment) export() Payment {
	out := p.Payment
	out.Refunds = make([]Refund, len(p.refunds))
	for i, r := range p.refunds {
		out.Refunds[i] = r.Refund
	}
	if len(out.Refunds) == 0 {
		out.Refunds = nil
	}
	return out
}

// qrCodeOf accepts a QR code or the QR URL and returns the code.
func qrCodeOf(s string) string {
	s = strings.TrimRight(s, "/")
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		s = s[i+1:]
	}
	return s
}

// Approve acts as the buyer approving a consult's QR code (qr is the code
// or its URL) with the account userLoginID of the consult's wallet: the
// account is created with the default balance if it does not exist, and
// empty means the wallet's first account. It issues an authCode and sends
// notifyAuthorization AUTHCODE_CREATED.
//
// It returns ErrNotFound for an unknown code, ErrConflict if the code was
// already used and ErrExpired if it expired.
func (s *Sim) Approve(qr, userLoginID string) (Authorization, error) {
	return s.act(qrCodeOf(qr), true, userLoginID)
}

// Deny acts as the buyer refusing a consult's QR code. Antom sends no
// notification for it. Errors as for Approve.
func (s *Sim) Deny(qr string) (Authorization, error) {
	return s.act(qrCodeOf(qr), false, "")
}

func (s *Sim) act(code string, approve bool, login string) (Authorization, error) {
	if approve && login != "" && (utf8.RuneCountInString(login) > 64 || strings.ContainsAny(login, "/?#")) {
		return Authorization{}, errorf(ErrInvalid, "userLoginId must be at most 64 characters without / ? #")
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	defer s.changed()
	a := s.st.auths[code]
	if a == nil {
		return Authorization{}, errorf(ErrNotFound, "QR code %q does not exist", code)
	}
	if a.Status == AuthPending && !now.Before(a.ExpiryTime) {
		a.Status = AuthExpired // the expiry event may not have run yet
	}
	switch a.Status {
	case AuthPending:
	case AuthExpired:
		return a.Authorization, errorf(ErrExpired, "QR code expired at %s", a.ExpiryTime.Format(time.RFC3339))
	default:
		return a.Authorization, errorf(ErrConflict, "QR code was already used (%s)", a.Status)
	}
	if !approve {
		a.Status, a.ActionTime = AuthDenied, now
		return a.Authorization, nil
	}
	var acct *account
	if login == "" {
		for _, x := range s.st.accountList {
			if x.Wallet == a.Wallet {
				acct = x
				break
			}
		}
		if acct == nil {
			login = defaultLogins[a.Wallet]
		}
	}
	if acct == nil {
		acct = s.st.accounts[accountKey(a.Wallet, login)]
	}
	if acct == nil {
		w, _ := antom.LookupWallet(a.Wallet)
		acct = &account{Account{Wallet: a.Wallet, UserLoginID: login, Currency: w.Currency,
			Balance: majorToMinor(s.cfg.DefaultBalance, w.Currency)}}
		s.st.accounts[accountKey(a.Wallet, login)] = acct
		s.st.accountList = append(s.st.accountList, acct)
	}
	a.Status, a.ActionTime = AuthApproved, now
	a.UserLoginID = acct.UserLoginID
	a.AuthCode = s.st.hexID(16)
	a.AuthCodeExpiryTime = now.Add(s.cfg.AuthCodeValidity)
	s.st.authCodes[a.AuthCode] = a
	s.notify(antom.KindAuthorization, antom.AuthCodeCreated, a.AuthState, a.NotifyURL, &antom.AuthorizationNotification{
		AuthorizationNotifyType: antom.AuthCodeCreated,
		Result:                  s.result(antom.CodeSuccess, ""),
		AuthState:               a.AuthState,
		AuthCode:                a.AuthCode,
	}, now)
	return a.Authorization, nil
}

// CancelToken cancels a token from the wallet side, as a buyer unlinking
// the merchant in the wallet app: the token and its refresh token stop
// working and notifyAuthorization TOKEN_CANCELED is sent (with reason, if
// not empty). It returns ErrNotFound for an unknown token and ErrConflict
// for one that is no longer active.
func (s *Sim) CancelToken(accessToken, reason string) (Token, error) {
	if utf8.RuneCountInString(reason) > 256 {
		return Token{}, errorf(ErrInvalid, "reason is over 256 characters")
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.st.tokens[accessToken]
	if t == nil {
		return Token{}, errorf(ErrNotFound, "token does not exist")
	}
	if !t.usable(now) {
		return t.Token, errorf(ErrConflict, "token is not active (%s)", t.statusAt(now))
	}
	t.Status, t.EndTime, t.Reason = TokenCanceled, now, reason
	s.changed()
	s.tokenCanceled(t, reason, now)
	return t.Token, nil
}

func (t *token) usable(now time.Time) bool {
	return t.Status == TokenActive && now.Before(t.AccessTokenExpiryTime)
}

func (t *token) statusAt(now time.Time) string {
	if t.Status == TokenActive && !now.Before(t.AccessTokenExpiryTime) {
		return "EXPIRED"
	}
	return t.Status
}

func (s *Sim) tokenCanceled(t *token, reason string, now time.Time) {
	s.notify(antom.KindAuthorization, antom.TokenCanceled, t.AccessToken, t.auth.NotifyURL, &antom.AuthorizationNotification{
		AuthorizationNotifyType: antom.TokenCanceled,
		Result:                  s.result(antom.CodeSuccess, ""),
		AccessToken:             t.AccessToken,
		Reason:                  reason,
	}, now)
}
