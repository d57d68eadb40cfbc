// Dunning: what a subscription does when one of its charges fails. The
// class of each failure is decided here, in one table, and applied in one
// place: settleChargeTx, the transaction every path (pay's answer, a
// notification, an inquiry, a cancel) settles a charge in.

package engine

import (
	"github.com/autodebit/autodebit"
	"github.com/autodebit/autodebit/antom"
)

// FailureClass is what a failed renewal charge means for its period.
type FailureClass string

// Failure classes.
const (
	// FailureRetryable: the buyer's wallet may accept a later attempt
	// (balance, limits, a temporary refusal, or a payment that never
	// completed): the subscription goes past_due and retries on its
	// retrySchedule; once the schedule is spent the period is unpaid.
	FailureRetryable FailureClass = "retryable"
	// FailureTokenGone: the token can never be charged again: the
	// subscription is cancelled, with the code as its reason.
	FailureTokenGone FailureClass = "token_gone"
	// FailureFinal: retrying the same charge cannot help (a bad request, a
	// merchant or buyer restriction, an unknown code): the period is
	// unpaid at once, and the subscription charges the next period on
	// schedule.
	FailureFinal FailureClass = "final"
)

// failureClasses is the dunning table: Antom's pay result codes (and the
// codes our own settlements carry) by class. A code not listed is final:
// an unknown refusal is never retried blindly. README.md ("Dunning")
// documents the same table, and a test checks that the two agree.
var failureClasses = map[string]FailureClass{
	// The buyer can fix these, or they pass by themselves.
	antom.CodeUserBalanceNotEnough:  FailureRetryable, // balance short: a top-up fixes it
	antom.CodeUserAmountExceedLimit: FailureRetryable, // the buyer's own daily or monthly limit
	CodePaymentAmountExceedLimit:    FailureRetryable, // the wallet's per-payment or per-period limit
	CodePaymentCountExceedLimit:     FailureRetryable, // too many payments in the wallet's window
	CodeUserStatusAbnormal:          FailureRetryable, // the account is restricted, usually for a while
	CodeRiskReject:                  FailureRetryable, // risk control refused this attempt
	// The payment never completed: nothing was taken and the buyer did not
	// refuse.
	antom.CodeOrderIsClosed:    FailureRetryable, // the order closed before the wallet finished
	codeOrderIsCanceled:        FailureRetryable, // we cancelled it while the result was unknown
	antom.CodeOrderNotExist:    FailureRetryable, // our cancel found that pay never reached Antom
	antom.CodeUnknownException: FailureRetryable, // Antom's own temporary failure
	CodeRequestTrafficExceed:   FailureRetryable, // Antom's rate limit

	// The token is dead: no later attempt can succeed.
	antom.CodeInvalidAccessToken: FailureTokenGone, // revoked, expired or unknown token
	CodeUserNotExist:             FailureTokenGone, // the wallet account behind the token is gone

	// Retrying the same charge cannot help.
	antom.CodeParamIllegal:          FailureFinal,
	antom.CodeCurrencyNotSupport:    FailureFinal,
	antom.CodeRepeatReqInconsistent: FailureFinal,
	CodeUserKYCNotQualified:         FailureFinal,
	CodeUserPaymentVerification:     FailureFinal,
	CodeMerchantNotRegistered:       FailureFinal,
	CodeInvalidContract:             FailureFinal,
	CodeSettleContractNotMatch:      FailureFinal,
	CodeNoPayOptions:                FailureFinal,
	CodePaymentNotQualified:         FailureFinal,
	CodeRegulationRestriction:       FailureFinal,
	antom.CodeProcessFail:           FailureFinal,
	antom.CodeSystemError:           FailureFinal,
	antom.CodeInvalidSignature:      FailureFinal,
	antom.CodeKeyNotFound:           FailureFinal,
	antom.CodeClientInvalid:         FailureFinal,
	CodeAccessDenied:                FailureFinal,
}

// Pay result codes the antom package does not name.
const (
	CodePaymentAmountExceedLimit = "PAYMENT_AMOUNT_EXCEED_LIMIT"
	CodePaymentCountExceedLimit  = "PAYMENT_COUNT_EXCEED_LIMIT"
	CodeUserStatusAbnormal       = "USER_STATUS_ABNORMAL"
	CodeRiskReject               = "RISK_REJECT"
	CodeRequestTrafficExceed     = "REQUEST_TRAFFIC_EXCEED_LIMIT"
	CodeUserNotExist             = "USER_NOT_EXIST"
	CodeUserKYCNotQualified      = "USER_KYC_NOT_QUALIFIED"
	CodeUserPaymentVerification  = "USER_PAYMENT_VERIFICATION_FAILED"
	CodeMerchantNotRegistered    = "MERCHANT_NOT_REGISTERED"
	CodeInvalidContract          = "INVALID_CONTRACT"
	CodeSettleContractNotMatch   = "SETTLE_CONTRACT_NOT_MATCH"
	CodeNoPayOptions             = "NO_PAY_OPTIONS"
	CodePaymentNotQualified      = "PAYMENT_NOT_QUALIFIED"
	CodeRegulationRestriction    = "REGULATION_RESTRICTION"
	CodeAccessDenied             = "ACCESS_DENIED"
)

// ClassifyFailure returns the class of a renewal charge that ended status
// (FAIL or CANCELLED) with code. A CANCELLED charge took nothing (a paid
// payment that is cancelled is refunded) and the buyer did not refuse it,
// so it is retryable whatever its code.
func ClassifyFailure(status autodebit.ChargeStatus, code string) FailureClass {
	if status == autodebit.ChargeCancelled {
		return FailureRetryable
	}
	if c, ok := failureClasses[code]; ok {
		return c
	}
	return FailureFinal
}

// DunningTable returns the classified codes (a copy of the table): codes
// not in it are final.
func DunningTable() map[string]FailureClass {
	out := make(map[string]FailureClass, len(failureClasses))
	for k, v := range failureClasses {
		out[k] = v
	}
	return out
}
