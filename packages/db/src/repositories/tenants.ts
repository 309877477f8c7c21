import type { Selectable } from 'kysely'
import { DbErrors } from '../errors.ts'
import { isUuid, pgError, PG, type DbExecutor } from '../executor.ts'
import type { Tenants } from '../generated/database.ts'

/** A tenant: one client business of the BSP. Every other account row belongs to one. */
export type Tenant = Selectable<Tenants>

const TENANT_COLUMNS = ['id', 'name', 'created_at'] as const

/** Creates a tenant. Throws `DB_INVALID_INPUT` for a blank name. */
export async function createTenant (db: DbExecutor, input: { name: string }): Promise<Tenant> {
  const name = input.name.trim()
  if (name === '') throw DbErrors.DB_INVALID_INPUT.create({ message: 'tenant name must not be blank', detail: { field: 'name' } })
  try {
    return await db.insertInto('tenants').values({ name }).returning(TENANT_COLUMNS).executeTakeFirstOrThrow()
  } catch (err) {
    if (pgError(err)?.code === PG.CHECK_VIOLATION) throw DbErrors.DB_INVALID_INPUT.create({ cause: err, detail: { field: 'name' } })
    throw err
  }
}

/** The tenant with this id, or undefined (also for a malformed id). */
export async function getTenant (db: DbExecutor, id: string): Promise<Tenant | undefined> {
  if (!isUuid(id)) return undefined
  return await db.selectFrom('tenants').select(TENANT_COLUMNS).where('id', '=', id).executeTakeFirst()
}

/** Every tenant, oldest first. */
export async function listTenants (db: DbExecutor): Promise<Tenant[]> {
  return await db.selectFrom('tenants').select(TENANT_COLUMNS).orderBy('created_at').orderBy('id').execute()
}
