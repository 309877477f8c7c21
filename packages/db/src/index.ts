/**
 * Postgres through Kysely: one `Database` interface, migrations, and the repositories shared by
 * the services. Repositories are functions over an executor (`Kysely<Database>` or a transaction).
 */
import { Kysely, PostgresDialect } from 'kysely'
import pg from 'pg'
import type { DB } from './generated/database.ts'

export type Database = DB
export type Db = Kysely<Database>
export { migrateToLatest, MigrationError } from './migrate.ts'
export { sql } from 'kysely'
export type { Kysely, Transaction, Selectable, Insertable, Updateable } from 'kysely'

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
  const { sql } = await import('kysely')
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
