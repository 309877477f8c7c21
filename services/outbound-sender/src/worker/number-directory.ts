import { getAccessToken, type Db, type PhoneNumberMode, type PhoneNumberStatus, type TokenCipher } from '@coexist/db'
import { MicroBatcher } from './micro-batcher.ts'

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

interface NumberRow {
  id: string
  tenant_id: string
  status: PhoneNumberStatus
  mode: PhoneNumberMode
  throughput_mps: number
  access_token_enc: Buffer | null
  token_key_id: string | null
}

/**
 * Reads numbers (status, limit, mode, token) from the shared accounts table, set by the sync
 * service, with a short cache: a number disconnected or upgraded takes effect within `ttlMs`.
 * The reads of many numbers go together (one statement for all the lanes refreshing at once), and
 * a token is decrypted again only when its stored ciphertext changed.
 */
export class NumberDirectory {
  readonly #db: Db
  readonly #cipher: TokenCipher
  readonly #ttlMs: number
  readonly #cache = new Map<string, { at: number, info: Promise<NumberInfo | undefined> }>()
  /** The last token decrypted per number, with the ciphertext it came from. */
  readonly #tokens = new Map<string, { enc: Buffer, keyId: string, token: string | undefined }>()
  readonly #reads: MicroBatcher<string, NumberRow | undefined>

  constructor (db: Db, cipher: TokenCipher, ttlMs = 10_000) {
    this.#db = db
    this.#cipher = cipher
    this.#ttlMs = ttlMs
    this.#reads = new MicroBatcher(async (ids) => {
      const rows = await this.#db.selectFrom('phone_numbers')
        .select(['id', 'tenant_id', 'status', 'mode', 'throughput_mps', 'access_token_enc', 'token_key_id'])
        .where('id', 'in', [...new Set(ids)]).execute()
      const byId = new Map(rows.map((r) => [r.id, r as NumberRow]))
      return ids.map((id) => byId.get(id))
    }, { maxBatch: 500, concurrency: 1, lingerMs: 5 })
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
  invalidate (phoneNumberId: string): void {
    this.#cache.delete(phoneNumberId)
    this.#tokens.delete(phoneNumberId)
  }

  async #load (phoneNumberId: string): Promise<NumberInfo | undefined> {
    const row = await this.#reads.add(phoneNumberId)
    if (row === undefined) { this.#tokens.delete(phoneNumberId); return undefined }
    return { phoneNumberId, tenantId: row.tenant_id, status: row.status, mode: row.mode, throughputMps: row.throughput_mps, token: await this.#token(row) }
  }

  async #token (row: NumberRow): Promise<string | undefined> {
    if (row.access_token_enc === null || row.token_key_id === null) { this.#tokens.delete(row.id); return undefined }
    const known = this.#tokens.get(row.id)
    if (known !== undefined && known.keyId === row.token_key_id && known.enc.equals(row.access_token_enc)) return known.token
    // Changed (or first read): decrypt through the repository, which owns the token's format.
    const token = await getAccessToken(this.#db, this.#cipher, row.id)
    this.#tokens.set(row.id, { enc: row.access_token_enc, keyId: row.token_key_id, token })
    return token
  }
}
