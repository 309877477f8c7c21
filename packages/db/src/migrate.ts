import type { Kysely } from 'kysely'
import { Migrator, type MigrationResultSet } from 'kysely/migration'
import { MIGRATIONS } from './migrations/index.ts'

export class MigrationError extends Error {
  readonly code = 'DB_MIGRATION_FAILED'
  constructor (message: string, options?: ErrorOptions) { super(message, options); this.name = 'MigrationError' }
}

/**
 * Runs every pending migration; throws {@link MigrationError} naming the one that failed.
 * Safe to call from several processes at once (Kysely takes an advisory lock).
 */
export async function migrateToLatest (db: Kysely<any>): Promise<MigrationResultSet> {
  const migrator = new Migrator({ db, provider: { getMigrations: async () => MIGRATIONS } })
  const result = await migrator.migrateToLatest()
  if (result.error !== undefined) {
    const failed = result.results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown'
    throw new MigrationError(`migration ${failed} failed: ${(result.error as Error).message ?? String(result.error)}`, { cause: result.error })
  }
  return result
}
