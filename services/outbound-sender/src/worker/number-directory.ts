import { getAccessToken, type Db, type PhoneNumberMode, type PhoneNumberStatus, type TokenCipher } from '@coexist/db'

/** What a lane needs to know about its number. The token never leaves this process's memory. */
export interface NumberInfo {
  phoneNumberId: string
  tenantId: string
  status: PhoneNumberStatus
  mode: PhoneNumberMode
  throughputMps: number
  /** Undefined when no token is stored. */
  token: string | undefined
}

/**
 * Reads numbers (status, limit, mode, token) from the shared accounts table, set by the sync
 * service, with a short cache: a number disconnected or upgraded takes effect within `ttlMs`.
 */
export class NumberDirectory {
  readonly #db: Db
  readonly #cipher: TokenCipher
  readonly #ttlMs: number
  readonly #cache = new Map<string, { at: number, info: Promise<NumberInfo | undefined> }>()

  constructor (db: Db, cipher: TokenCipher, ttlMs = 10_000) {
    this.#db = db
    this.#cipher = cipher
    this.#ttlMs = ttlMs
  }

  /** The number, or undefined when it does not exist. */
  get (phoneNumberId: string): Promise<NumberInfo | undefined> {
    const now = performance.now()
    const hit = this.#cache.get(phoneNumberId)
    if (hit !== undefined && now - hit.at < this.#ttlMs) return hit.info
    const info = this.#load(phoneNumberId)
    this.#cache.set(phoneNumberId, { at: now, info })
    // A failed read is not cached.
    info.catch(() => { if (this.#cache.get(phoneNumberId)?.info === info) this.#cache.delete(phoneNumberId) })
    return info
  }

  /** Forgets a number (e.g. after Meta said its token is invalid). */
  invalidate (phoneNumberId: string): void { this.#cache.delete(phoneNumberId) }

  async #load (phoneNumberId: string): Promise<NumberInfo | undefined> {
    const row = await this.#db.selectFrom('phone_numbers').select(['id', 'tenant_id', 'status', 'mode', 'throughput_mps'])
      .where('id', '=', phoneNumberId).executeTakeFirst()
    if (row === undefined) return undefined
    const token = await getAccessToken(this.#db, this.#cipher, phoneNumberId)
    return { phoneNumberId, tenantId: row.tenant_id, status: row.status, mode: row.mode, throughputMps: row.throughput_mps, token }
  }
}
