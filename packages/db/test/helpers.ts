import { randomBytes } from 'node:crypto'
import { testDatabase, type Teardown } from '@coexist/testkit'
import { createDb, type Db } from '../src/index.ts'

/** A Kysely instance on a fresh migrated database; destroyed (then the database dropped) at teardown. */
export async function openDb (t: Teardown): Promise<Db> {
  const { url } = await testDatabase(t)
  const db = createDb(url, { max: 2 })
  t.teardown(() => db.destroy()) // tap runs teardowns last-in first-out: before the DROP
  return db
}

/** A random 32-byte key. */
export function newKey (): Buffer { return randomBytes(32) }

/** A Meta-like numeric id. */
export function metaId (): string { return String(100000000000000 + Math.floor(Math.random() * 1e14)) }
