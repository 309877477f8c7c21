import { defineErrors } from '@coexist/errors'

/**
 * The outbound sender's error catalog. API callers and the DLQ see these codes; decide by code.
 * Messages are shown to API callers: they name no other tenant and no secret.
 */
export const OutErrors = defineErrors('OUT_', {
  /** The number does not exist or belongs to another tenant (indistinguishable on purpose). */
  OUT_NUMBER_NOT_FOUND: { status: 404, message: 'phone number not found' },
  /** The number exists but cannot send now; `detail.status` says why. */
  OUT_NUMBER_NOT_ACTIVE: { status: 409, message: 'this phone number is not active and cannot send' },
  OUT_NUMBER_DISCONNECTED: { status: 409, message: 'this phone number is disconnected from the Cloud API and cannot send' },
  OUT_NUMBER_SUSPENDED: { status: 409, message: 'this phone number is suspended and cannot send' },
  OUT_NUMBER_PENDING: { status: 409, message: 'this phone number is still being onboarded and cannot send yet' },
  /** Free-form message to a customer whose 24-hour service window is closed (Meta would say 131047). */
  OUT_WINDOW_CLOSED: { status: 422, message: 'the 24-hour customer service window with this customer is closed; only a template message can be sent' },
  /** The tenant's spend limit is reached: paid (template) messages are refused, service replies still go. */
  OUT_SPEND_LIMIT_REACHED: { status: 402, message: 'the spend limit of this account is reached; template messages are refused until it is raised' },
  OUT_IDEMPOTENCY_KEY_REUSED: { status: 409, message: 'this Idempotency-Key was already used with a different request' },
  OUT_IDEMPOTENCY_KEY_INVALID: { status: 400, message: 'Idempotency-Key must be 1 to 255 visible ASCII characters' },
  OUT_MESSAGE_NOT_FOUND: { status: 404, message: 'message not found' },
  /** Kafka did not acknowledge the request: it was not accepted (retry with the same Idempotency-Key). */
  OUT_NOT_DURABLE: { status: 503, message: 'the request could not be made durable; retry with the same Idempotency-Key', retryable: true, backoffMs: 1000 },
  OUT_BATCH_TOO_LARGE: { status: 413, message: 'too many messages in one batch' },

  // Worker reasons (results, dead letters).
  /** The number has no stored access token. */
  OUT_NO_ACCESS_TOKEN: { status: 409, message: 'no access token is stored for this phone number' },
  /** Retries ran out (attempts or time) on a retryable error. */
  OUT_RETRY_BUDGET_EXHAUSTED: { status: 503, message: 'the send kept failing with retryable errors until the retry budget ran out' },
  /** Meta asked for a wait longer than the retry budget allows (e.g. 131049: not before 24 h). */
  OUT_RETRY_TOO_LATE: { status: 503, message: 'Meta asked to wait longer than the retry budget allows' },
  /** A record on the requests topic that is not a valid request. */
  OUT_REQUEST_INVALID: { status: 422, message: 'the request record is not a valid send request' },
  /** The request row is missing (never accepted, or the tenant was deleted). */
  OUT_REQUEST_UNKNOWN: { status: 404, message: 'the request record has no accepted request behind it' },
  /** A send left and its outcome is unknown (timeout, crash); not resent by policy. */
  OUT_OUTCOME_UNKNOWN: { status: 504, message: 'the send may or may not have reached Meta; it was not resent to avoid a duplicate' },
  /** A webhook record that is not what its topic promises (dead-lettered by the consumer). */
  OUT_WEBHOOK_INVALID: { status: 422, message: 'the webhook record does not hold a valid change value' },
  /** The request was never acknowledged by Kafka and has expired. */
  OUT_NOT_ACCEPTED: { status: 503, message: 'the request was never made durable and was not sent' }
})
