import { defineErrors } from '@coexist/errors'

/**
 * The db package's error catalog. Callers decide by `code` (e.g. `DbErrors.DB_WABA_TENANT_CONFLICT.is(err)`),
 * never by message. Messages are shown to API callers, so they name no other tenant and no secret.
 */
export const DbErrors = defineErrors('DB_', {
  DB_MIGRATION_FAILED: { status: 500, message: 'database migration failed' },
  /** A configured token encryption key is not 32 bytes, or two keys share a key id. */
  DB_TOKEN_KEY_INVALID: { status: 500, message: 'token encryption key is invalid' },
  /** A stored token names a key id that is neither the current key nor a previous one. */
  DB_TOKEN_KEY_UNKNOWN: { status: 500, message: 'access token is encrypted under a key that is not configured' },
  /** Authentication of a stored token failed: tampered, truncated, wrong key or wrong row. */
  DB_TOKEN_DECRYPT_FAILED: { status: 500, message: 'access token could not be decrypted' },
  /** A value the schema refuses; `detail.field` names it. */
  DB_INVALID_INPUT: { status: 400, message: 'invalid value' },
  DB_TENANT_NOT_FOUND: { status: 404, message: 'tenant not found' },
  /** The WABA does not exist or belongs to another tenant (indistinguishable on purpose). */
  DB_WABA_NOT_FOUND: { status: 404, message: 'WABA not found' },
  DB_WABA_TENANT_CONFLICT: { status: 409, message: 'this WABA is already registered to another tenant' },
  DB_PHONE_NUMBER_TENANT_CONFLICT: { status: 409, message: 'this phone number is already registered to another tenant' }
})
