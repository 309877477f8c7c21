// Which tenant, WABA, currency and timezone a business number bills to. Read from the accounts
// tables (owned by sync/admin) and cached briefly: pricing asks for every record.
import { sql, type DbExecutor } from '@coexist/db'

export interface Account {
  phoneNumberId: string
  tenantId: string
  wabaId: string
  /** The WABA's currency (Meta's, ISO 4217); null until known. */
  currency: string | null
  /** The WABA's timezone (IANA); UTC when unknown. */
  timezone: string
  /** Volume-tier scope: the WABA's business portfolio when set, else the WABA. */
  scope: string
}

const TTL_MS = 30_000
const MISS_TTL_MS = 2_000

export class AccountCache {
  readonly #entries = new Map<string, { account: Account | null, until: number }>()

  /** Accounts of the given numbers (missing = unknown number), from the cache or one query. */
  async get (db: DbExecutor, phoneNumberIds: readonly string[], now = Date.now()): Promise<Map<string, Account>> {
    const out = new Map<string, Account>()
    const missing: string[] = []
    for (const id of new Set(phoneNumberIds)) {
      const e = this.#entries.get(id)
      if (e !== undefined && e.until > now) { if (e.account !== null) out.set(id, e.account) } else missing.push(id)
    }
    if (missing.length > 0) {
      const { rows } = await sql<{ id: string, tenant_id: string, waba_id: string, currency: string | null, timezone: string | null, scope: string }>`
        SELECT p.id, p.tenant_id, p.waba_id, w.currency, w.timezone, coalesce(s.business_portfolio_id, p.waba_id) AS scope
        FROM phone_numbers p JOIN wabas w ON w.id = p.waba_id
        LEFT JOIN billing_waba_settings s ON s.waba_id = p.waba_id
        WHERE p.id = ANY(${missing}::text[])`.execute(db)
      const found = new Set<string>()
      for (const r of rows) {
        const account: Account = { phoneNumberId: r.id, tenantId: r.tenant_id, wabaId: r.waba_id, currency: r.currency, timezone: r.timezone ?? 'UTC', scope: r.scope }
        this.#entries.set(r.id, { account, until: now + TTL_MS })
        out.set(r.id, account)
        found.add(r.id)
      }
      for (const id of missing) if (!found.has(id)) this.#entries.set(id, { account: null, until: now + MISS_TTL_MS })
      if (this.#entries.size > 100_000) this.#entries.clear()
    }
    return out
  }

  /** Forget everything (a WABA's settings changed). */
  clear (): void { this.#entries.clear() }
}
