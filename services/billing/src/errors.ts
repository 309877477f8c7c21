import { defineErrors } from '@coexist/errors'

/**
 * The billing service's error catalog. Decide by `code`; messages are shown to API callers and
 * name no other tenant.
 */
export const BillErrors = defineErrors('BILL_', {
  /** A rate card (CSV or JSON) that cannot be loaded; `detail` names the line and the reason. */
  BILL_RATE_CARD_INVALID: { status: 400, message: 'rate card is invalid' },
  /** The same currency, effective date and version is already loaded with other rates. */
  BILL_RATE_CARD_CONFLICT: { status: 409, message: 'a rate card with this currency, effective date and version already exists with different rates' },
  BILL_RATE_CARD_NOT_FOUND: { status: 404, message: 'rate card not found' },
  /** Ledger line, invoice or usage of another tenant, or none: indistinguishable on purpose. */
  BILL_NOT_FOUND: { status: 404, message: 'not found' },
  BILL_TENANT_NOT_FOUND: { status: 404, message: 'tenant not found' },
  BILL_WABA_NOT_FOUND: { status: 404, message: 'WABA not found' },
  /** An admin-only operation called with a tenant key. */
  BILL_FORBIDDEN: { status: 403, message: 'this operation needs an admin key' },
  /** A query or body that does not make sense (period the wrong way round, unknown currency...). */
  BILL_INVALID_REQUEST: { status: 400, message: 'invalid request' },
  /** The same top-up idempotency key was used with a different amount or currency. */
  BILL_TOPUP_CONFLICT: { status: 409, message: 'this idempotency key was already used for a different top-up' },
  /** The WABA has no phone number with a stored access token to call pricing_analytics with. */
  BILL_NO_TOKEN: { status: 422, message: 'no access token is stored for this WABA' },
  /** Meta refused or failed the pricing_analytics call; `cause` holds Meta's coded error. */
  BILL_ANALYTICS_FAILED: { status: 502, message: 'Meta pricing analytics could not be fetched', retryable: true, backoffMs: 60_000 },
  /** A record that names a phone number billing does not know (registered in sync first). */
  BILL_UNKNOWN_PHONE_NUMBER: { status: 422, message: 'unknown phone number', retryable: true, backoffMs: 5_000 },
  /** A Kafka record whose payload does not match its schema. */
  BILL_INVALID_RECORD: { status: 422, message: 'invalid record' }
})
