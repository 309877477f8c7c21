import type { Kysely } from 'kysely'
import { Migrator, type MigrationResultSet } from 'kysely/migration'
import { CoexistError } from '@coexist/errors'
import { DbErrors } from './errors.ts'
import { MIGRATIONS } from './migrations/index.ts'

/** A failed migration; `code` is `DB_MIGRATION_FAILED`, `cause` the database error. */
export class MigrationError extends CoexistError {
  constructor (message: string, options?: ErrorOptions) {
    super(DbErrors.DB_MIGRATION_FAILED.code, DbErrors.DB_MIGRATION_FAILED.spec, { message, cause: options?.cause })
    this.name = 'MigrationError'
  }
}

/**
 * Runs every pending migration; throws {@link MigrationError} naming the one that failed.
 * Safe to call from several processes at once (Kysely takes an advisory lock).
 */
export async function migrateToLatest (db: Kysely<any>): Promise<MigrationResultSet> {
  // Each service numbers its migrations in its own range (01xx sync, 02xx outbound, 03xx billing),
  // so a new sync migration can sort before an applied billing one: run such gaps too.
  const migrator = new Migrator({ db, provider: { getMigrations: async () => MIGRATIONS }, allowUnorderedMigrations: true })
  const result = await migrator.migrateToLatest()
  if (result.error !== undefined) {
    const failed = result.results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown'
    throw new MigrationError(`migration ${failed} failed: ${(result.error as Error).message ?? String(result.error)}`, { cause: result.error })
  }
  return result
}
