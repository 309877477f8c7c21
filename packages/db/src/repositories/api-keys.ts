import { createHash, randomBytes } from 'node:crypto'
import { sql, type Selectable } from 'kysely'
import { DbErrors } from '../errors.ts'
import { isUuid, pgError, PG, type DbExecutor } from '../executor.ts'
import type { ApiKeys } from '../generated/database.ts'

/**
 * API key roles. A key holds one or more; `admin` implies all the others.
 * - `admin`: everything. Without a tenant (a platform key, such as the bootstrap
 *   `COEXIST_ADMIN_KEY`) across every tenant: create tenants and their keys, WABAs and numbers.
 *   With a tenant: everything inside that tenant, its API keys included.
 * - `manage`: the tenant's accounts: WABAs, phone numbers (settings, throughput, status, access
 *   tokens), onboarding and templates. Not API keys.
 * - `send`: send messages (`POST /v1/messages`) and read their results.
 * - `read`: read conversations, messages, contacts, sync state and usage.
 *
 * Only an `admin` key may have no tenant (enforced by the `api_keys_tenant_or_admin` CHECK).
 */
export const API_KEY_ROLES = ['admin', 'manage', 'send', 'read'] as const
export type ApiKeyRole = typeof API_KEY_ROLES[number]

/** True when a key with `roles` may act as `role` (`admin` allows everything). */
export function apiKeyAllows (roles: readonly string[], role: ApiKeyRole): boolean {
  return roles.includes('admin') || roles.includes(role)
}

/** An API key as listed: never its hash, never the plain key. */
export type ApiKeyInfo = Omit<Selectable<ApiKeys>, 'key_hash' | 'roles'> & { roles: ApiKeyRole[] }

/** What an authenticated request acts as. `tenantId` null: a platform admin key. */
export interface ResolvedApiKey { keyId: string, tenantId: string | null, roles: ApiKeyRole[] }

export interface CreatedApiKey {
  id: string
  /** The plain key. Shown to its owner once; only its SHA-256 is stored. */
  key: string
  /** The key's first characters (`cx_XXXXXXXX`), stored in clear to tell keys apart. */
  prefix: string
}

export interface CreateApiKeyInput {
  tenantId: string | null
  name: string
  roles: readonly string[]
}

const KEY_INFO_COLUMNS = ['id', 'tenant_id', 'name', 'key_prefix', 'roles', 'created_at', 'last_used_at', 'revoked_at'] as const
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'
const PREFIX_CHARS = 8
const SECRET_CHARS = 32 // ~190 bits
/** Longest key `resolveApiKey` hashes; anything longer cannot be one of ours. */
const MAX_KEY_LENGTH = 512
/** `last_used_at` is bumped at most this often per key, so authentication is not a write per request. */
const LAST_USED_RESOLUTION = sql`interval '1 minute'`

/** Uniform base62 (rejection sampling: bytes >= 248 would bias the first characters). */
function randomBase62 (length: number): string {
  let out = ''
  while (out.length < length) {
    for (const b of randomBytes(length + 8)) {
      if (b >= 248) continue
      out += BASE62[b % 62]
      if (out.length === length) break
    }
  }
  return out
}

/** SHA-256 of the key's UTF-8 bytes: what `api_keys.key_hash` holds. */
export function hashApiKey (plainKey: string): Buffer {
  return createHash('sha256').update(plainKey, 'utf8').digest()
}

function normaliseRoles (tenantId: string | null, roles: readonly string[]): ApiKeyRole[] {
  const unknown = roles.filter((r) => !(API_KEY_ROLES as readonly string[]).includes(r))
  if (unknown.length > 0) throw DbErrors.DB_INVALID_INPUT.create({ message: `unknown API key role: ${unknown.join(', ')}`, detail: { field: 'roles', allowed: API_KEY_ROLES } })
  const out = API_KEY_ROLES.filter((r) => roles.includes(r))
  if (out.length === 0) throw DbErrors.DB_INVALID_INPUT.create({ message: 'an API key needs at least one role', detail: { field: 'roles' } })
  if (tenantId === null && !out.includes('admin')) {
    throw DbErrors.DB_INVALID_INPUT.create({ message: 'only an admin key may have no tenant', detail: { field: 'tenantId' } })
  }
  return out
}

function checkInput (input: CreateApiKeyInput): { name: string, roles: ApiKeyRole[] } {
  if (input.tenantId !== null && !isUuid(input.tenantId)) throw DbErrors.DB_TENANT_NOT_FOUND.create({ detail: { tenantId: input.tenantId } })
  const name = input.name.trim()
  if (name === '') throw DbErrors.DB_INVALID_INPUT.create({ message: 'API key name must not be blank', detail: { field: 'name' } })
  return { name, roles: normaliseRoles(input.tenantId, input.roles) }
}

function mapWriteError (err: unknown, tenantId: string | null): unknown {
  const pe = pgError(err)
  if (pe?.code === PG.FOREIGN_KEY_VIOLATION) return DbErrors.DB_TENANT_NOT_FOUND.create({ cause: err, detail: { tenantId } })
  if (pe?.code === PG.CHECK_VIOLATION) return DbErrors.DB_INVALID_INPUT.create({ cause: err, detail: { field: 'roles', constraint: pe.constraint } })
  return err
}

/**
 * Creates a key `cx_<8 base62>_<32 base62>` and returns it in clear: the only time it is
 * available. Throws `DB_TENANT_NOT_FOUND`, or `DB_INVALID_INPUT` for an unknown role, no role,
 * or no tenant without `admin`.
 *
 * @example
 * const { id, key } = await createApiKey(db, { tenantId, name: 'crm', roles: ['send', 'read'] })
 */
export async function createApiKey (db: DbExecutor, input: CreateApiKeyInput): Promise<CreatedApiKey> {
  const { name, roles } = checkInput(input)
  const prefix = `cx_${randomBase62(PREFIX_CHARS)}`
  const key = `${prefix}_${randomBase62(SECRET_CHARS)}`
  try {
    const row = await db.insertInto('api_keys')
      .values({ tenant_id: input.tenantId, name, key_hash: hashApiKey(key), key_prefix: prefix, roles })
      .returning(['id'])
      .executeTakeFirstOrThrow()
    return { id: row.id, key, prefix }
  } catch (err) {
    throw mapWriteError(err, input.tenantId)
  }
}

/**
 * Registers a key chosen elsewhere (the bootstrap `COEXIST_ADMIN_KEY`), idempotently: when a key
 * with the same hash exists, nothing changes (a revoked one stays revoked). Returns its id.
 */
export async function ensureApiKey (db: DbExecutor, input: CreateApiKeyInput & { key: string }): Promise<{ id: string, created: boolean }> {
  const { name, roles } = checkInput(input)
  if (input.key.length < 16 || input.key.length > MAX_KEY_LENGTH) {
    throw DbErrors.DB_INVALID_INPUT.create({ message: `an API key must be 16 to ${MAX_KEY_LENGTH} characters`, detail: { field: 'key' } })
  }
  const keyHash = hashApiKey(input.key)
  // Show at most a quarter of a foreign key, never more than our own prefixes show.
  const prefix = input.key.slice(0, Math.min(PREFIX_CHARS + 3, Math.floor(input.key.length / 4)))
  try {
    const inserted = await db.insertInto('api_keys')
      .values({ tenant_id: input.tenantId, name, key_hash: keyHash, key_prefix: prefix, roles })
      .onConflict((oc) => oc.column('key_hash').doNothing())
      .returning(['id'])
      .executeTakeFirst()
    if (inserted !== undefined) return { id: inserted.id, created: true }
  } catch (err) {
    throw mapWriteError(err, input.tenantId)
  }
  const existing = await db.selectFrom('api_keys').select(['id']).where('key_hash', '=', keyHash).executeTakeFirstOrThrow()
  return { id: existing.id, created: false }
}

/**
 * Authenticates a plain key: its tenant and roles, or null when unknown or revoked. One statement
 * through the unique hash index; `last_used_at` is bumped in the same statement, but only when
 * older than a minute.
 */
export async function resolveApiKey (db: DbExecutor, plainKey: string): Promise<ResolvedApiKey | null> {
  if (typeof plainKey !== 'string' || plainKey.length === 0 || plainKey.length > MAX_KEY_LENGTH) return null
  // A data-modifying CTE runs to completion even though the outer query does not read it.
  const row = await db
    .with('k', (qb) => qb.selectFrom('api_keys')
      .select(['id', 'tenant_id', 'roles', 'last_used_at'])
      .where('key_hash', '=', hashApiKey(plainKey))
      .where('revoked_at', 'is', null))
    .with('touch', (qb) => qb.updateTable('api_keys')
      .set({ last_used_at: sql`now()` })
      .from('k')
      .whereRef('api_keys.id', '=', 'k.id')
      .where((eb) => eb.or([
        eb('k.last_used_at', 'is', null),
        eb('k.last_used_at', '<', sql<Date>`now() - ${LAST_USED_RESOLUTION}`)
      ]))
      .returning(['api_keys.id']))
    .selectFrom('k')
    .select(['k.id', 'k.tenant_id', 'k.roles'])
    .executeTakeFirst()
  if (row === undefined) return null
  return { keyId: row.id, tenantId: row.tenant_id, roles: row.roles as ApiKeyRole[] }
}

/**
 * Revokes a key of `tenantId` (null: a platform key). True when the key exists there (revoking
 * twice keeps the first time); false for another tenant's key or an unknown id.
 */
export async function revokeApiKey (db: DbExecutor, tenantId: string | null, keyId: string): Promise<boolean> {
  if (!isUuid(keyId) || (tenantId !== null && !isUuid(tenantId))) return false
  const result = await db.updateTable('api_keys')
    .set({ revoked_at: sql`coalesce(revoked_at, now())` })
    .where('id', '=', keyId)
    .where('tenant_id', tenantId === null ? 'is' : '=', tenantId)
    .executeTakeFirst()
  return result.numUpdatedRows > 0n
}

/** The keys of `tenantId` (null: platform keys), revoked ones included, oldest first. */
export async function listApiKeys (db: DbExecutor, tenantId: string | null): Promise<ApiKeyInfo[]> {
  if (tenantId !== null && !isUuid(tenantId)) return []
  const rows = await db.selectFrom('api_keys')
    .select(KEY_INFO_COLUMNS)
    .where('tenant_id', tenantId === null ? 'is' : '=', tenantId)
    .orderBy('created_at').orderBy('id')
    .execute()
  return rows.map((r) => ({ ...r, roles: r.roles as ApiKeyRole[] }))
}
