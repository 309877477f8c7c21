import { defineErrors } from '@coexist/errors'

/** The sync service's error catalog: decide by `code`, never by message. */
export const SyncErrors = defineErrors('SYNC_', {
  /** A coexistence number whose country Meta does not support for coexistence. */
  SYNC_COUNTRY_UNSUPPORTED: { status: 422, message: 'coexistence is not available for numbers in this country' },
  /** Throughput outside what the number's mode allows. */
  SYNC_THROUGHPUT_INVALID: { status: 422, message: 'throughput not allowed for this mode' },
  SYNC_NUMBER_NOT_FOUND: { status: 404, message: 'phone number not found' },
  SYNC_CONVERSATION_NOT_FOUND: { status: 404, message: 'conversation not found' },
  SYNC_TENANT_NOT_FOUND: { status: 404, message: 'tenant not found' },
  SYNC_WABA_NOT_FOUND: { status: 404, message: 'WABA not found' },
  /** Onboarding asked for a number that is not in coexistence mode. */
  SYNC_NOT_COEXISTENCE: { status: 409, message: 'the number is not in coexistence mode' },
  /** A new onboarding while the current one is still live. */
  SYNC_ONBOARDING_ACTIVE: { status: 409, message: 'the number already has an onboarding in progress or connected' },
  SYNC_CURSOR_INVALID: { status: 400, message: 'invalid pagination cursor' },
  /** Subscribing our app to the WABA failed at Meta; the registration itself is kept. */
  SYNC_SUBSCRIBE_FAILED: { status: 502, message: 'subscribing the app to the WABA failed', retryable: true, backoffMs: 5000 },
  /** A record whose payload does not match Meta's schema (sent to the dead-letter topic). */
  SYNC_RECORD_INVALID: { status: 422, message: 'record does not match its schema' },
  /** A webhook for a number Coexist does not know (kept in the dead-letter topic). */
  SYNC_UNKNOWN_NUMBER: { status: 404, message: 'webhook for an unregistered phone number' }
})
