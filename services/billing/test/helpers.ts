// Shared set-up for billing tests: a migrated database with a tenant, a USD WABA and numbers,
// the sample rate card, and a pricer over a fake clock.
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createDb, createPhoneNumber, createTenant, createTokenCipher, upsertWaba, type Db } from '@coexist/db'
import { createLogger } from '@coexist/logger'
import { testDatabase, type Teardown } from '@coexist/testkit'
import { mergeTiers, parseRateCardCsv, parseVolumeTiersCsv } from '../src/domain/rate-card-csv.ts'
import { AccountCache } from '../src/ledger/accounts.ts'
import { RateBook } from '../src/ledger/rate-book.ts'
import type { PricerDeps } from '../src/ledger/pricer.ts'
import { saveRateCard } from '../src/store/rate-cards.ts'

export const SAMPLE_CSV = readFileSync(new URL('../rate-cards/sample-usd-2026-01-01.csv', import.meta.url), 'utf8')
export const SAMPLE_TIERS_CSV = readFileSync(new URL('../rate-cards/sample-usd-2026-01-01-tiers.csv', import.meta.url), 'utf8')

/** A settable clock. */
export class FakeClock {
  t: number
  constructor (t: number) { this.t = t }
  now = (): number => this.t
}

export const cipher = createTokenCipher({ current: randomBytes(32) })

export interface Fixture {
  db: Db
  url: string
  tenantId: string
  otherTenantId: string
  wabaId: string
  otherWabaId: string
  /** Numbers of the tenant (two) and of the other tenant (one). */
  pn: string
  pn2: string
  otherPn: string
}

let seq = 0
/** A fresh database with two tenants, their USD WABAs (São Paulo timezone) and numbers. */
export async function fixture (t: Teardown, opts: { sampleCard?: boolean } = {}): Promise<Fixture> {
  const { url } = await testDatabase(t)
  const db = createDb(url, { max: 5 })
  t.teardown(() => db.destroy())
  const n = `${process.pid}${++seq}`
  const tenant = await createTenant(db, { name: 'Acme' })
  const other = await createTenant(db, { name: 'Globex' })
  const wabaId = `31${n}01`
  const otherWabaId = `31${n}02`
  await upsertWaba(db, { id: wabaId, tenantId: tenant.id, currency: 'USD', timezone: 'America/Sao_Paulo' })
  await upsertWaba(db, { id: otherWabaId, tenantId: other.id, currency: 'USD', timezone: 'UTC' })
  const pn = `62${n}01`
  const pn2 = `62${n}02`
  const otherPn = `62${n}03`
  await createPhoneNumber(db, cipher, { id: pn, tenantId: tenant.id, wabaId, displayPhoneNumber: '5511999990000', mode: 'coexistence', accessToken: 'EAAtesttokenaaaaaaaaaaaaaaaaaaaaa' })
  await createPhoneNumber(db, cipher, { id: pn2, tenantId: tenant.id, wabaId, displayPhoneNumber: '5511999990001', mode: 'cloud_api' })
  await createPhoneNumber(db, cipher, { id: otherPn, tenantId: other.id, wabaId: otherWabaId, displayPhoneNumber: '14155550000', mode: 'cloud_api' })
  if (opts.sampleCard !== false) await loadSampleCard(db)
  return { db, url, tenantId: tenant.id, otherTenantId: other.id, wabaId, otherWabaId, pn, pn2, otherPn }
}

/** Loads the shipped sample card (rates + tiers) as version `sample-2026q1`, effective 2026-01-01. */
async function loadSampleCard (db: Db): Promise<string> {
  const card = mergeTiers(parseRateCardCsv(SAMPLE_CSV, 'USD'), parseVolumeTiersCsv(SAMPLE_TIERS_CSV, 'USD'))
  const { card: saved } = await saveRateCard(db, { version: 'sample-2026q1', currency: 'USD', effectiveFrom: '2026-01-01', isSample: true, source: 'sample', rates: card.rates })
  return saved.id
}

export function pricerDeps (db: Db, clock: { now: () => number }): PricerDeps {
  return { db, rateBook: new RateBook(), accounts: new AccountCache(), clock, logger: createLogger({ level: 'silent' }) }
}

/** ms of a UTC date-time string. */
export const at = (s: string): number => Date.parse(s)
