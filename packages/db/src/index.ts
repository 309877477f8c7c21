/**
 * Postgres through Kysely: one `Database` interface, migrations, and the repositories shared by
 * the services. Repositories are functions over an executor (`Kysely<Database>` or a transaction).
 */
import { Kysely, PostgresDialect, sql } from 'kysely'
import pg from 'pg'
import type { DB } from './generated/database.ts'

export type Database = DB
export type Db = Kysely<Database>
export type { PhoneNumberMode, PhoneNumberStatus } from './generated/database.ts'
export { migrateToLatest, MigrationError } from './migrate.ts'
export { sql } from 'kysely'
export type { Kysely, Transaction, Selectable, Insertable, Updateable } from 'kysely'
export { DbErrors } from './errors.ts'
export { isUuid, type DbExecutor } from './executor.ts'
export { createTokenCipher, tokenKeyId, type TokenCipher, type TokenCipherKeys, type EncryptedToken } from './token-cipher.ts'
export { createTenant, getTenant, listTenants, type Tenant } from './repositories/tenants.ts'
export {
  API_KEY_ROLES, apiKeyAllows, hashApiKey, createApiKey, ensureApiKey, resolveApiKey, revokeApiKey, listApiKeys,
  type ApiKeyRole, type ApiKeyInfo, type ResolvedApiKey, type CreatedApiKey, type CreateApiKeyInput
} from './repositories/api-keys.ts'
export { upsertWaba, getWaba, getTenantWaba, listWabas, type Waba, type UpsertWabaInput } from './repositories/wabas.ts'
export {
  PHONE_NUMBER_MODES, PHONE_NUMBER_STATUSES, DEFAULT_THROUGHPUT_MPS, MAX_THROUGHPUT_MPS,
  createPhoneNumber, getPhoneNumber, getTenantPhoneNumber, listPhoneNumbers, updatePhoneNumber, getAccessToken, reencryptTokens,
  type PhoneNumber, type CreatePhoneNumberInput, type UpdatePhoneNumberPatch
} from './repositories/phone-numbers.ts'

// int8 (COUNT, bigint ids) as JS numbers: our counters stay far below 2^53.
pg.types.setTypeParser(20, (v) => Number(v))

export interface CreateDbOptions {
  /** Pool size; default 10. */
  max?: number
  applicationName?: string
  /** Called when an idle pooled connection fails (it is discarded either way). */
  onIdleError?: (err: Error) => void
}

/** A Kysely instance over a pg pool. Call `db.destroy()` to close it. */
export function createDb (url: string, opts: CreateDbOptions = {}): Db {
  const pool = new pg.Pool({ connectionString: url, max: opts.max ?? 10, application_name: opts.applicationName ?? 'coexist' })
  // An idle client can be terminated by the server (restart, DROP DATABASE … FORCE); the pool
  // replaces it on the next checkout. Without a listener the event would crash the process.
  pool.on('error', (err) => opts.onIdleError?.(err))
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) })
}

/** True when a trivial query answers within `timeoutMs` (readiness probes). */
export async function pingDb (db: Db, timeoutMs = 2000): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([
      sql`select 1`.execute(db).then(() => true),
      new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(false), timeoutMs) })
    ])
  } catch {
    return false
  } finally {
    clearTimeout(timer)
  }
}
