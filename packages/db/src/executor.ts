import type { Kysely, Transaction } from 'kysely'
import type { DB } from './generated/database.ts'

/**
 * What every repository function runs on: the pool, or a transaction. Inside a transaction pass
 * the transaction handle only, so every statement joins it.
 */
export type DbExecutor = Kysely<DB> | Transaction<DB>

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/**
 * True for a syntactically valid UUID. Ids from URLs are checked before they reach a uuid column:
 * Postgres would answer a malformed one with an error (22P02) instead of "no such row".
 */
export function isUuid (value: unknown): value is string {
  return typeof value === 'string' && UUID.test(value)
}

/** The SQLSTATE and constraint name of a node-postgres error, when `err` is one. */
export function pgError (err: unknown): { code: string, constraint: string | undefined } | undefined {
  if (err === null || typeof err !== 'object') return undefined
  const { code, constraint } = err as { code?: unknown, constraint?: unknown }
  if (typeof code !== 'string' || !/^[0-9A-Z]{5}$/.test(code)) return undefined
  return { code, constraint: typeof constraint === 'string' ? constraint : undefined }
}

/** SQLSTATEs we map to coded errors. */
export const PG = {
  FOREIGN_KEY_VIOLATION: '23503',
  UNIQUE_VIOLATION: '23505',
  CHECK_VIOLATION: '23514'
} as const
