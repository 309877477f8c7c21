import { sql, type ExpressionBuilder, type Selectable } from 'kysely'
import { CoexistError } from '@coexist/errors'
import { DbErrors } from '../errors.ts'
import { isUuid, pgError, PG, type DbExecutor } from '../executor.ts'
import type { DB, PhoneNumberMode, PhoneNumbers, PhoneNumberStatus } from '../generated/database.ts'
import type { TokenCipher } from '../token-cipher.ts'

/**
 * A phone number as every reader sees it: never the encrypted token nor its key id, only whether
 * a token is stored. Read the token itself with {@link getAccessToken}.
 */
export type PhoneNumber = Omit<Selectable<PhoneNumbers>, 'access_token_enc' | 'token_key_id'> & { has_access_token: boolean }

/**
 * `cloud_api`: a number used only through the Cloud API. `coexistence`: also used in the WhatsApp
 * Business App on the owner's phone; Meta fixes its throughput at 20 MPS.
 */
export const PHONE_NUMBER_MODES = ['cloud_api', 'coexistence'] as const satisfies readonly PhoneNumberMode[]

/**
 * `pending`: registered, not ready to send (onboarding). `active`: sends. `suspended`: sending
 * stopped by us or by Meta (ban, spend limit). `disconnected`: removed at Meta's side (app
 * unlinked, partner removed). Only `active` numbers send.
 */
export const PHONE_NUMBER_STATUSES = ['pending', 'active', 'suspended', 'disconnected'] as const satisfies readonly PhoneNumberStatus[]

/** Messages per second when none is given: Meta's defaults. */
export const DEFAULT_THROUGHPUT_MPS: Readonly<Record<PhoneNumberMode, number>> = Object.freeze({ cloud_api: 80, coexistence: 20 })
/** Highest throughput per mode: 1,000 MPS for upgraded Cloud API numbers, 20 for coexistence. */
export const MAX_THROUGHPUT_MPS: Readonly<Record<PhoneNumberMode, number>> = Object.freeze({ cloud_api: 1000, coexistence: 20 })

export interface CreatePhoneNumberInput {
  /** Meta's phone_number_id. */
  id: string
  tenantId: string
  /** A WABA of the same tenant. */
  wabaId: string
  displayPhoneNumber: string
  mode: PhoneNumberMode
  /** 1..1000 (1..20 for coexistence); default {@link DEFAULT_THROUGHPUT_MPS} of the mode. */
  throughputMps?: number
  status?: PhoneNumberStatus
  /** Meta access token for this number; stored encrypted, never returned. */
  accessToken?: string
}

export interface UpdatePhoneNumberPatch {
  throughputMps?: number
  status?: PhoneNumberStatus
  /** A new token; null removes the stored one. */
  accessToken?: string | null
}

const PHONE_NUMBER_COLUMNS = ['id', 'tenant_id', 'waba_id', 'display_phone_number', 'mode', 'throughput_mps', 'status', 'created_at', 'updated_at'] as const

// Explicit columns plus a flag; the ciphertext never leaves the database through these reads.
function phoneNumberSelection (eb: ExpressionBuilder<DB, 'phone_numbers'>) {
  return [...PHONE_NUMBER_COLUMNS, eb('phone_numbers.access_token_enc', 'is not', null).$castTo<boolean>().as('has_access_token')] as const
}

function invalid (field: string, message: string, cause?: unknown): CoexistError {
  return DbErrors.DB_INVALID_INPUT.create({ message, detail: { field }, cause })
}

function checkThroughput (mps: number, mode?: PhoneNumberMode): void {
  const max = mode === undefined ? MAX_THROUGHPUT_MPS.cloud_api : MAX_THROUGHPUT_MPS[mode]
  if (!Number.isInteger(mps) || mps < 1 || mps > max) {
    throw invalid('throughputMps', `throughput must be an integer from 1 to ${max} messages per second${mode === 'coexistence' ? ' for a coexistence number' : ''}`)
  }
}

function checkStatus (status: string): void {
  if (!(PHONE_NUMBER_STATUSES as readonly string[]).includes(status)) throw invalid('status', `status must be one of ${PHONE_NUMBER_STATUSES.join(', ')}`)
}

function checkToken (token: string): void {
  if (typeof token !== 'string' || token.length === 0) throw invalid('accessToken', 'access token must not be empty')
}

/** The additional authenticated data of a stored token: binds the ciphertext to its row. */
function tokenAad (phoneNumberId: string): string { return `phone_numbers:${phoneNumberId}` }

function mapWriteError (err: unknown, ids: { tenantId: string, wabaId?: string }): unknown {
  const pe = pgError(err)
  if (pe === undefined) return err
  if (pe.code === PG.FOREIGN_KEY_VIOLATION) {
    return pe.constraint === 'phone_numbers_waba_fk'
      ? DbErrors.DB_WABA_NOT_FOUND.create({ cause: err, detail: { wabaId: ids.wabaId } })
      : DbErrors.DB_TENANT_NOT_FOUND.create({ cause: err, detail: { tenantId: ids.tenantId } })
  }
  if (pe.code === PG.CHECK_VIOLATION) {
    // The only checks a valid input can still hit are about throughput versus mode.
    return invalid('throughputMps', `throughput out of range for this number (${pe.constraint ?? 'check'})`, err)
  }
  return err
}

/**
 * Registers a tenant's phone number, or updates it when the tenant already has it (idempotent:
 * onboarding may run twice). On such an update, an omitted throughput is kept unless the mode
 * changes (then the new mode's default applies), and an omitted token or status is kept.
 * Throws `DB_PHONE_NUMBER_TENANT_CONFLICT` (another tenant's number), `DB_WABA_NOT_FOUND` (the
 * WABA is not this tenant's), `DB_TENANT_NOT_FOUND`, `DB_INVALID_INPUT`.
 *
 * @example
 * await createPhoneNumber(db, cipher, { id: '1065…', tenantId, wabaId, displayPhoneNumber: '+1 555…', mode: 'coexistence', accessToken })
 */
export async function createPhoneNumber (db: DbExecutor, cipher: TokenCipher, input: CreatePhoneNumberInput): Promise<PhoneNumber> {
  if (!isUuid(input.tenantId)) throw DbErrors.DB_TENANT_NOT_FOUND.create({ detail: { tenantId: input.tenantId } })
  if (input.id.trim() === '') throw invalid('id', 'phone number id must not be blank')
  if (input.displayPhoneNumber.trim() === '') throw invalid('displayPhoneNumber', 'display phone number must not be blank')
  if (!(PHONE_NUMBER_MODES as readonly string[]).includes(input.mode)) throw invalid('mode', `mode must be one of ${PHONE_NUMBER_MODES.join(', ')}`)
  if (input.throughputMps !== undefined) checkThroughput(input.throughputMps, input.mode)
  if (input.status !== undefined) checkStatus(input.status)
  if (input.accessToken !== undefined) checkToken(input.accessToken)
  const token = input.accessToken === undefined ? undefined : cipher.encrypt(input.accessToken, tokenAad(input.id))

  let row: PhoneNumber | undefined
  try {
    row = await db.insertInto('phone_numbers')
      .values({
        id: input.id,
        tenant_id: input.tenantId,
        waba_id: input.wabaId,
        display_phone_number: input.displayPhoneNumber,
        mode: input.mode,
        throughput_mps: input.throughputMps ?? DEFAULT_THROUGHPUT_MPS[input.mode],
        status: input.status ?? 'active',
        access_token_enc: token?.ciphertext ?? null,
        token_key_id: token?.keyId ?? null
      })
      .onConflict((oc) => oc.column('id')
        .doUpdateSet({
          waba_id: (eb) => eb.ref('excluded.waba_id'),
          display_phone_number: (eb) => eb.ref('excluded.display_phone_number'),
          mode: (eb) => eb.ref('excluded.mode'),
          throughput_mps: input.throughputMps !== undefined
            ? (eb) => eb.ref('excluded.throughput_mps')
            : sql<number>`CASE WHEN phone_numbers.mode = excluded.mode THEN phone_numbers.throughput_mps ELSE excluded.throughput_mps END`,
          ...(input.status !== undefined ? { status: (eb) => eb.ref('excluded.status') } : {}),
          ...(token !== undefined
            ? { access_token_enc: (eb) => eb.ref('excluded.access_token_enc'), token_key_id: (eb) => eb.ref('excluded.token_key_id') }
            : {}),
          updated_at: sql<Date>`now()`
        })
        // Another tenant's number: no update and no row returned, detected below.
        .where('phone_numbers.tenant_id', '=', input.tenantId))
      .returning(phoneNumberSelection)
      .executeTakeFirst()
  } catch (err) {
    throw mapWriteError(err, input)
  }
  if (row === undefined) throw DbErrors.DB_PHONE_NUMBER_TENANT_CONFLICT.create({ detail: { phoneNumberId: input.id } })
  return row
}

/** The number with this id, whatever its tenant (internal use: webhooks, the sender). */
export async function getPhoneNumber (db: DbExecutor, id: string): Promise<PhoneNumber | undefined> {
  return await db.selectFrom('phone_numbers').select(phoneNumberSelection).where('id', '=', id).executeTakeFirst()
}

/** The number with this id when it belongs to `tenantId`; undefined otherwise (API use). */
export async function getTenantPhoneNumber (db: DbExecutor, tenantId: string, id: string): Promise<PhoneNumber | undefined> {
  if (!isUuid(tenantId)) return undefined
  return await db.selectFrom('phone_numbers').select(phoneNumberSelection)
    .where('id', '=', id).where('tenant_id', '=', tenantId)
    .executeTakeFirst()
}

/** The tenant's numbers, oldest first; `wabaId` narrows to one WABA. */
export async function listPhoneNumbers (db: DbExecutor, tenantId: string, opts: { wabaId?: string } = {}): Promise<PhoneNumber[]> {
  if (!isUuid(tenantId)) return []
  let q = db.selectFrom('phone_numbers').select(phoneNumberSelection).where('tenant_id', '=', tenantId)
  if (opts.wabaId !== undefined) q = q.where('waba_id', '=', opts.wabaId)
  return await q.orderBy('created_at').orderBy('id').execute()
}

/**
 * Changes a tenant's number; undefined when the tenant has no such number. A coexistence number
 * keeps at most 20 MPS (`DB_INVALID_INPUT`). The token, when given, is encrypted under the
 * current key; null removes it.
 */
export async function updatePhoneNumber (
  db: DbExecutor, cipher: TokenCipher, tenantId: string, id: string, patch: UpdatePhoneNumberPatch
): Promise<PhoneNumber | undefined> {
  if (!isUuid(tenantId)) return undefined
  if (patch.throughputMps !== undefined) checkThroughput(patch.throughputMps)
  if (patch.status !== undefined) checkStatus(patch.status)
  if (typeof patch.accessToken === 'string') checkToken(patch.accessToken)
  const token = typeof patch.accessToken === 'string' ? cipher.encrypt(patch.accessToken, tokenAad(id)) : patch.accessToken
  if (patch.throughputMps === undefined && patch.status === undefined && token === undefined) {
    return await getTenantPhoneNumber(db, tenantId, id)
  }
  try {
    return await db.updateTable('phone_numbers')
      .set({
        ...(patch.throughputMps !== undefined ? { throughput_mps: patch.throughputMps } : {}),
        ...(patch.status !== undefined ? { status: patch.status } : {}),
        ...(token !== undefined ? { access_token_enc: token?.ciphertext ?? null, token_key_id: token?.keyId ?? null } : {}),
        updated_at: sql<Date>`now()`
      })
      .where('id', '=', id)
      .where('tenant_id', '=', tenantId)
      .returning(phoneNumberSelection)
      .executeTakeFirst()
  } catch (err) {
    throw mapWriteError(err, { tenantId })
  }
}

/** Re-throws a cipher error with the number it concerns (never the token). */
function decryptFor (cipher: TokenCipher, phoneNumberId: string, ciphertext: Buffer, keyId: string): string {
  try {
    return cipher.decrypt(ciphertext, keyId, tokenAad(phoneNumberId))
  } catch (err) {
    if (err instanceof CoexistError) throw new CoexistError(err.code, { message: err.message, status: err.status }, { cause: err, detail: { ...err.detail, phoneNumberId } })
    throw err
  }
}

/**
 * The number's Meta access token in clear, for a Graph API call; undefined when the number or its
 * token is absent. Never log it. Throws `DB_TOKEN_KEY_UNKNOWN` / `DB_TOKEN_DECRYPT_FAILED`.
 */
export async function getAccessToken (db: DbExecutor, cipher: TokenCipher, phoneNumberId: string): Promise<string | undefined> {
  const row = await db.selectFrom('phone_numbers').select(['access_token_enc', 'token_key_id']).where('id', '=', phoneNumberId).executeTakeFirst()
  if (row?.access_token_enc == null || row.token_key_id == null) return undefined
  return decryptFor(cipher, phoneNumberId, row.access_token_enc, row.token_key_id)
}

/**
 * Key rotation: re-encrypts under the current key every stored token written under another key,
 * in batches (one bulk UPDATE each). A row changed meanwhile is left alone (its new token is
 * already current). Returns how many rows were rewritten; 0 once all are current, so it can run
 * at every start. Throws `DB_TOKEN_KEY_UNKNOWN` when a token's key is not among the configured
 * keys: keep the old key in `previous` until this has run.
 */
export async function reencryptTokens (db: DbExecutor, cipher: TokenCipher, opts: { batchSize?: number } = {}): Promise<number> {
  const batchSize = opts.batchSize ?? 500
  let after = ''
  let count = 0
  for (;;) {
    const rows = await db.selectFrom('phone_numbers')
      .select(['id', 'access_token_enc', 'token_key_id'])
      .where('access_token_enc', 'is not', null)
      .where('token_key_id', '<>', cipher.currentKeyId)
      .where('id', '>', after)
      .orderBy('id')
      .limit(batchSize)
      .execute()
    if (rows.length === 0) break
    const ids: string[] = []
    const oldKeyIds: string[] = []
    const oldCiphertexts: Buffer[] = []
    const newCiphertexts: Buffer[] = []
    for (const r of rows) {
      if (r.access_token_enc === null || r.token_key_id === null) continue
      const plain = decryptFor(cipher, r.id, r.access_token_enc, r.token_key_id)
      ids.push(r.id)
      oldKeyIds.push(r.token_key_id)
      oldCiphertexts.push(r.access_token_enc)
      newCiphertexts.push(cipher.encrypt(plain, tokenAad(r.id)).ciphertext)
    }
    // Compare-and-set on the old ciphertext: a token replaced since the read is not overwritten.
    const result = await sql`
      UPDATE phone_numbers AS p
         SET access_token_enc = v.new_enc, token_key_id = ${cipher.currentKeyId}
        FROM unnest(${ids}::text[], ${oldKeyIds}::text[], ${oldCiphertexts}::bytea[], ${newCiphertexts}::bytea[])
             AS v(id, old_key_id, old_enc, new_enc)
       WHERE p.id = v.id AND p.token_key_id = v.old_key_id AND p.access_token_enc = v.old_enc`.execute(db)
    count += Number(result.numAffectedRows ?? 0n)
    after = rows[rows.length - 1]?.id ?? after
    if (rows.length < batchSize) break
  }
  return count
}
