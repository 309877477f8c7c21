/**
 * Ingress's error catalog. Meta only looks at the status: 200 is delivered, anything else is
 * retried, so every code here says whether Meta will (and should) send the webhook again.
 */
import { defineErrors } from '@coexist/errors'

export const IngressErrors = defineErrors('ING_', {
  /** X-Hub-Signature-256 missing, malformed, wrong, or made with another app's secret. Nothing was published. */
  ING_SIGNATURE_INVALID: { status: 401, message: 'the webhook signature does not match the body' },
  /** The GET handshake did not match (mode, verify token, challenge or app id). */
  ING_VERIFICATION_FAILED: { status: 403, message: 'webhook verification failed' },
  /** Kafka did not acknowledge every record of the request in time (down, slow or refusing). Meta retries. */
  ING_KAFKA_UNAVAILABLE: { status: 503, retryable: true, backoffMs: 1000, message: 'the webhook could not be stored; retry later' }
})
