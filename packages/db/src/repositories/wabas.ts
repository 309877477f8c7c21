import { sql, type Selectable } from 'kysely'
import { DbErrors } from '../errors.ts'
import { isUuid, pgError, PG, type DbExecutor } from '../executor.ts'
import type { Wabas } from '../generated/database.ts'

/** A WhatsApp Business Account, owned by one tenant for life. */
export type Waba = Selectable<Wabas>

export interface UpsertWabaInput {
  /** Meta's WABA id. */
  id: string
  tenantId: string
  /** Fields left undefined keep their stored value; null clears it. */
  name?: string | null
  /** ISO 4217, upper case, as Meta reports it. */
  currency?: string | null
  timezone?: string | null
}

const WABA_COLUMNS = ['id', 'tenant_id', 'name', 'currency', 'timezone', 'created_at', 'updated_at'] as const

/**
 * Registers a WABA for a tenant, or updates the given fields when the tenant already has it
 * (idempotent: replays change nothing, and `updated_at` moves only when a value changes).
 * Throws `DB_WABA_TENANT_CONFLICT` when the WABA belongs to another tenant, `DB_TENANT_NOT_FOUND`,
 * or `DB_INVALID_INPUT` (blank id, currency not ISO 4217).
 */
export async function upsertWaba (db: DbExecutor, input: UpsertWabaInput): Promise<Waba> {
  if (!isUuid(input.tenantId)) throw DbErrors.DB_TENANT_NOT_FOUND.create({ detail: { tenantId: input.tenantId } })
  if (input.id.trim() === '') throw DbErrors.DB_INVALID_INPUT.create({ message: 'WABA id must not be blank', detail: { field: 'id' } })
  if (input.currency != null && !/^[A-Z]{3}$/.test(input.currency)) {
    throw DbErrors.DB_INVALID_INPUT.create({ message: 'currency must be an ISO 4217 code such as USD', detail: { field: 'currency' } })
  }
  // Given fields take the new value, others keep the stored one.
  const next = {
    name: input.name === undefined ? sql<string | null>`wabas.name` : sql<string | null>`excluded.name`,
    currency: input.currency === undefined ? sql<string | null>`wabas.currency` : sql<string | null>`excluded.currency`,
    timezone: input.timezone === undefined ? sql<string | null>`wabas.timezone` : sql<string | null>`excluded.timezone`
  }
  let row: Waba | undefined
  try {
    row = await db.insertInto('wabas')
      .values({ id: input.id, tenant_id: input.tenantId, name: input.name ?? null, currency: input.currency ?? null, timezone: input.timezone ?? null })
      .onConflict((oc) => oc.column('id')
        .doUpdateSet({
          ...next,
          updated_at: sql<Date>`CASE WHEN (wabas.name, wabas.currency, wabas.timezone) IS DISTINCT FROM (${next.name}, ${next.currency}, ${next.timezone})
            THEN now() ELSE wabas.updated_at END`
        })
        // Another tenant's WABA: no update and no row returned, detected below.
        .where('wabas.tenant_id', '=', input.tenantId))
      .returning(WABA_COLUMNS)
      .executeTakeFirst()
  } catch (err) {
    const pe = pgError(err)
    if (pe?.code === PG.FOREIGN_KEY_VIOLATION) throw DbErrors.DB_TENANT_NOT_FOUND.create({ cause: err, detail: { tenantId: input.tenantId } })
    if (pe?.code === PG.CHECK_VIOLATION) throw DbErrors.DB_INVALID_INPUT.create({ cause: err, detail: { field: 'currency', constraint: pe.constraint } })
    throw err
  }
  if (row === undefined) throw DbErrors.DB_WABA_TENANT_CONFLICT.create({ detail: { wabaId: input.id } })
  return row
}

/** The WABA with this id, whatever its tenant (internal use: webhooks, workers). */
export async function getWaba (db: DbExecutor, id: string): Promise<Waba | undefined> {
  return await db.selectFrom('wabas').select(WABA_COLUMNS).where('id', '=', id).executeTakeFirst()
}

/** The WABA with this id when it belongs to `tenantId`; undefined otherwise (API use). */
export async function getTenantWaba (db: DbExecutor, tenantId: string, id: string): Promise<Waba | undefined> {
  if (!isUuid(tenantId)) return undefined
  return await db.selectFrom('wabas').select(WABA_COLUMNS).where('id', '=', id).where('tenant_id', '=', tenantId).executeTakeFirst()
}

/** The tenant's WABAs, oldest first. */
export async function listWabas (db: DbExecutor, tenantId: string): Promise<Waba[]> {
  if (!isUuid(tenantId)) return []
  return await db.selectFrom('wabas').select(WABA_COLUMNS).where('tenant_id', '=', tenantId).orderBy('created_at').orderBy('id').execute()
}
