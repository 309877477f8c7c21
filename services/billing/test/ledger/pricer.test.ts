import t from 'tap'
import { sql, type Db } from '@coexist/db'
import { applyFacts } from '../../src/ledger/pricer.ts'
import type { Fact } from '../../src/ledger/facts.ts'
import { FakeClock, at, fixture, pricerDeps } from '../helpers.ts'

const BR = '5511988887777'
const IN = '919876543210'

const send = (wamid: string, pn: string, recipient: string, category: string, sentAt: number, tenantId: string | null = null): Fact =>
  ({ kind: 'send', wamid, tenantId, phoneNumberId: pn, recipient, categoryHint: category as never, isTemplate: category !== 'service', sentAt })
const status = (wamid: string, pn: string, recipient: string, st: string, ts: number, pricing?: { type: string, category: string }): Fact =>
  ({ kind: 'status', wamid, phoneNumberId: pn, wabaId: null, status: st, ts, recipient, pricing: pricing === undefined ? null : { model: 'PMP', type: pricing.type as never, category: pricing.category as never, billable: pricing.type === 'regular' } })

async function line (db: Db, wamid: string) {
  return await db.selectFrom('billing_ledger').selectAll().where('wamid', '=', wamid).executeTakeFirstOrThrow()
}
async function balance (db: Db, tenantId: string) {
  const r = await db.selectFrom('billing_balances').select(['balance_micros', 'state']).where('tenant_id', '=', tenantId).executeTakeFirst()
  return r === undefined ? undefined : { balance: Number(r.balance_micros), state: r.state }
}

t.test('a delivered marketing template is charged once, with markup, whatever the order and duplicates', async (t) => {
  const f = await fixture(t)
  const clock = new FakeClock(at('2026-01-10T12:00:00Z'))
  const deps = pricerDeps(f.db, clock)
  await f.db.insertInto('billing_tenant_plans').values({ tenant_id: f.tenantId, markup_percent_bps: 1000 }).execute()
  const T = at('2026-01-10T10:00:00Z')
  const facts: Fact[] = [
    send('wamid.M1', f.pn, BR, 'marketing', T, f.tenantId),
    status('wamid.M1', f.pn, BR, 'sent', T + 1000, { type: 'regular', category: 'marketing' }),
    status('wamid.M1', f.pn, BR, 'delivered', T + 2000, { type: 'regular', category: 'marketing' }),
    status('wamid.M1', f.pn, BR, 'read', T + 3000)
  ]
  // Delivered first (the send is not known yet: revision 1, origin unknown), then everything
  // three times over in reverse order: the send adds the origin (revision 2), the rest nothing.
  await applyFacts(deps, [facts[2]!])
  t.match(await line(f.db, 'wamid.M1'), { state: 'charged', origin: 'unknown', revision: 1 })
  for (let i = 0; i < 3; i++) await applyFacts(deps, [...facts].reverse())
  const l = await line(f.db, 'wamid.M1')
  t.match(l, { state: 'charged', category: 'marketing', market: 'Brazil', country: 'BR', origin: 'api', decided_by: 'meta', free_reason: null, rate_card_version: 'sample-2026q1', revision: 2 })
  t.equal(Number(l.unit_price_micros), 57_000, 'sample Brazil marketing rate')
  t.equal(Number(l.billed_price_micros), 62_700, '+10 % markup')
  t.equal(l.sent_at.getTime(), T, 'the earliest send time wins')
  t.same(await balance(f.db, f.tenantId), { balance: -62_700, state: 'OK' }, 'charged exactly once; postpaid stays OK')
  const events = await f.db.selectFrom('billing_outbox').select(['topic', 'event_type']).execute()
  t.same(events, [{ topic: 'billing.usage', event_type: 'billing.usage_recorded' }, { topic: 'billing.usage', event_type: 'billing.usage_recorded' }], 'one usage record per revision')
})

t.test('free messages and their reasons', async (t) => {
  const f = await fixture(t)
  const clock = new FakeClock(at('2026-01-20T00:00:00Z'))
  const deps = pricerDeps(f.db, clock)
  const U = at('2026-01-10T10:00:00Z') // the user writes
  await applyFacts(deps, [{ kind: 'inbound', wamid: 'wamid.IN1', phoneNumberId: f.pn, waId: BR, ts: U, entryPoint: false }])
  await applyFacts(deps, [
    send('wamid.U1', f.pn, BR, 'utility', U + 3_600_000), status('wamid.U1', f.pn, BR, 'delivered', U + 3_600_500), // in window
    send('wamid.U2', f.pn, BR, 'utility', U + 30 * 3_600_000), status('wamid.U2', f.pn, BR, 'delivered', U + 30 * 3_600_000 + 500), // after 24 h
    send('wamid.S1', f.pn, BR, 'service', U + 60_000), status('wamid.S1', f.pn, BR, 'delivered', U + 61_000),
    send('wamid.F1', f.pn, BR, 'marketing', U + 120_000), status('wamid.F1', f.pn, BR, 'failed', U + 121_000),
    { kind: 'echo', wamid: 'wamid.E1', phoneNumberId: f.pn, wabaId: f.wabaId, recipient: BR, ts: U + 200_000 },
    status('wamid.E1', f.pn, BR, 'delivered', U + 201_000, { type: 'regular', category: 'marketing' })
  ])
  t.match(await line(f.db, 'wamid.U1'), { state: 'free', free_reason: 'utility_in_window', category: 'utility', decided_by: 'own', own_billable: false })
  t.match(await line(f.db, 'wamid.U2'), { state: 'charged', category: 'utility', tier: '1:100', tier_position: 1 })
  t.match(await line(f.db, 'wamid.S1'), { state: 'free', free_reason: 'service_window', category: 'service' })
  t.match(await line(f.db, 'wamid.F1'), { state: 'free', free_reason: 'not_delivered', category: 'marketing' })
  t.match(await line(f.db, 'wamid.E1'), { state: 'free', free_reason: 'business_app', origin: 'business_app', billed_price_micros: 0 }, 'app messages are never charged')

  // The user message arrives late for a pair already priced: the window applies retroactively.
  await applyFacts(deps, [send('wamid.U3', f.pn, IN, 'utility', U), status('wamid.U3', f.pn, IN, 'delivered', U + 1000)])
  t.match(await line(f.db, 'wamid.U3'), { state: 'charged', revision: 1 })
  await applyFacts(deps, [{ kind: 'inbound', wamid: 'wamid.IN2', phoneNumberId: f.pn, waId: IN, ts: U - 3_600_000, entryPoint: false }])
  t.match(await line(f.db, 'wamid.U3'), { state: 'free', free_reason: 'utility_in_window', revision: 2 })
  const b = await balance(f.db, f.tenantId)
  t.equal(b?.balance, -17_000, 'only U2 stays charged (sample Brazil utility 0.017)')
})

t.test('free entry point: the reply within 24 h opens 72 free hours', async (t) => {
  const f = await fixture(t)
  const deps = pricerDeps(f.db, new FakeClock(at('2026-02-01T00:00:00Z')))
  const U = at('2026-01-10T10:00:00Z')
  const H = 3_600_000
  await applyFacts(deps, [
    { kind: 'inbound', wamid: 'wamid.AD', phoneNumberId: f.pn, waId: BR, ts: U, entryPoint: true },
    send('wamid.R1', f.pn, BR, 'service', U + 2 * H), status('wamid.R1', f.pn, BR, 'delivered', U + 2 * H),
    send('wamid.R2', f.pn, BR, 'marketing', U + 50 * H), status('wamid.R2', f.pn, BR, 'delivered', U + 50 * H),
    send('wamid.R3', f.pn, BR, 'marketing', U + 80 * H), status('wamid.R3', f.pn, BR, 'delivered', U + 80 * H)
  ])
  t.match(await line(f.db, 'wamid.R1'), { state: 'free', free_reason: 'free_entry_point', category: 'referral_conversion' })
  t.match(await line(f.db, 'wamid.R2'), { state: 'free', free_reason: 'free_entry_point' }, 'a marketing template 48 h after the reply is free')
  t.match(await line(f.db, 'wamid.R3'), { state: 'charged', category: 'marketing' }, '78 h after the reply: charged')
})

t.test('volume tiers: counted per market × category × month, Meta\'s tier update is the authority', async (t) => {
  const f = await fixture(t)
  const deps = pricerDeps(f.db, new FakeClock(at('2026-02-01T00:00:00Z')))
  const T = at('2026-01-05T12:00:00Z')
  const facts: Fact[] = []
  for (let i = 0; i < 102; i++) {
    const w = `wamid.T${String(i).padStart(3, '0')}`
    facts.push(send(w, f.pn, IN, 'utility', T + i * 1000), status(w, f.pn, IN, 'delivered', T + i * 1000 + 500, { type: 'regular', category: 'utility' }))
  }
  await applyFacts(deps, facts)
  t.match(await line(f.db, 'wamid.T099'), { tier_position: 100, tier: '1:100', unit_price_micros: 5000 })
  t.match(await line(f.db, 'wamid.T100'), { tier_position: 101, tier: '101:1000', unit_price_micros: 4500 })
  const c = await f.db.selectFrom('billing_volume_counters').selectAll().execute()
  t.same(c.map((r) => [r.market, r.category, r.month, r.count]), [['India', 'utility', '2026-01', 102]])

  // Meta says the portfolio reached 1001+ at T + 50 s (other WABAs, other BSPs): later lines reprice.
  await applyFacts(deps, [{ kind: 'tier', wabaId: f.wabaId, market: 'India', category: 'utility', month: '2026-01', lower: 1001, upper: null, updateTime: T + 50_000 }])
  t.match(await line(f.db, 'wamid.T049'), { tier: '1:100', unit_price_micros: 5000, revision: 1 })
  t.match(await line(f.db, 'wamid.T050'), { tier: '1001:MAX', unit_price_micros: 3700, revision: 2 })
  // A duplicate update with a later time changes nothing; an earlier one moves the boundary.
  await applyFacts(deps, [{ kind: 'tier', wabaId: f.wabaId, market: 'India', category: 'utility', month: '2026-01', lower: 1001, upper: null, updateTime: T + 90_000 }])
  t.match(await line(f.db, 'wamid.T049'), { tier: '1:100', revision: 1 })
  await applyFacts(deps, [{ kind: 'tier', wabaId: f.wabaId, market: 'India', category: 'utility', month: '2026-01', lower: 1001, upper: null, updateTime: T + 40_000 }])
  t.match(await line(f.db, 'wamid.T040'), { tier: '1001:MAX', revision: 2 })
  const { rows } = await sql<{ s: string }>`SELECT sum(unit_price_micros)::text AS s FROM billing_ledger`.execute(f.db)
  t.equal(Number(rows[0]!.s), 40 * 5000 + 62 * 3700)
  t.equal(Number((await balance(f.db, f.tenantId))?.balance), -(40 * 5000 + 62 * 3700), 'the balance follows every reprice')
})

t.test('prepaid tenant at zero balance is EXHAUSTED; a top-up brings it back', async (t) => {
  const f = await fixture(t)
  const deps = pricerDeps(f.db, new FakeClock(at('2026-01-10T12:00:00Z')))
  await f.db.insertInto('billing_tenant_plans').values({ tenant_id: f.tenantId, prepaid: true }).execute()
  await f.db.insertInto('billing_balances').values({ tenant_id: f.tenantId, currency: 'USD', balance_micros: 57_000 }).execute()
  const T = at('2026-01-10T10:00:00Z')
  await applyFacts(deps, [send('wamid.P1', f.pn, BR, 'marketing', T), status('wamid.P1', f.pn, BR, 'delivered', T + 1000)])
  t.same(await balance(f.db, f.tenantId), { balance: 0, state: 'EXHAUSTED' })
  const ev = await f.db.selectFrom('billing_outbox').select(['topic', 'event_type']).where('event_type', '=', 'billing.balance_changed').execute()
  t.same(ev.map((e) => e.topic).sort(), ['billing.balance', 'billing.usage'])
})

t.test('unknown rate: unpriced until a card covers it; unknown number: no tenant, never charged to anyone', async (t) => {
  const f = await fixture(t, { sampleCard: false })
  const deps = pricerDeps(f.db, new FakeClock(at('2026-01-10T12:00:00Z')))
  const T = at('2026-01-10T10:00:00Z')
  await applyFacts(deps, [send('wamid.X1', f.pn, BR, 'marketing', T), status('wamid.X1', f.pn, BR, 'delivered', T + 1000)])
  t.match(await line(f.db, 'wamid.X1'), { state: 'unpriced', category: 'marketing', unit_price_micros: 0 })
  await applyFacts(deps, [status('wamid.X2', '999999', BR, 'delivered', T, { type: 'regular', category: 'marketing' })])
  t.match(await line(f.db, 'wamid.X2'), { tenant_id: null, state: 'unpriced' })
  t.equal(await balance(f.db, f.tenantId), undefined)
})

t.test('a line another transaction creates meanwhile: the insert conflicts, the batch is retried and merges into it, charged once', async (t) => {
  const f = await fixture(t)
  const deps = pricerDeps(f.db, new FakeClock(at('2026-01-10T12:00:00Z')))
  const T = at('2026-01-10T10:00:00Z')
  // Another transaction has inserted wamid.R1 (pending) and not committed yet: this batch's
  // lookup does not see it, so the batch creates the line too and its insert waits on the key.
  let commit!: () => void
  let inserted!: () => void
  const insertedP = new Promise<void>((resolve) => { inserted = resolve })
  const other = f.db.transaction().execute(async (tx) => {
    await sql`INSERT INTO billing_ledger (wamid, phone_number_id, recipient, origin, sent_at, delivery, state, decided_by)
      VALUES ('wamid.R1', ${f.pn}, ${BR}, 'unknown', ${new Date(T)}, 'pending', 'pending', 'none')`.execute(tx)
    inserted()
    await new Promise<void>((resolve) => { commit = resolve })
  })
  await insertedP
  const applying = applyFacts(deps, [status('wamid.R1', f.pn, BR, 'delivered', T + 2000, { type: 'regular', category: 'marketing' })])
  // Commit the other transaction once the batch's insert is waiting for it.
  for (let i = 0; i < 200; i++) {
    const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`.execute(f.db)
    if (rows[0]!.n > 0) break
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
  commit()
  await other
  await applying
  t.match(await line(f.db, 'wamid.R1'), { state: 'charged', category: 'marketing', delivery: 'delivered', revision: 1 })
  t.equal((await balance(f.db, f.tenantId))?.balance, -57_000, 'charged exactly once (sample Brazil marketing, no markup)')
})

t.test('a value the binary columns cannot carry (a tenant id that is not a uuid) is refused by Postgres, as invalid data', async (t) => {
  const f = await fixture(t)
  const deps = pricerDeps(f.db, new FakeClock(at('2026-01-10T12:00:00Z')))
  const T = at('2026-01-10T10:00:00Z')
  await t.rejects(applyFacts(deps, [send('wamid.BAD1', f.pn, BR, 'marketing', T, 'not-a-uuid')]), { code: '22P02' })
  t.equal((await f.db.selectFrom('billing_ledger').select('wamid').where('wamid', '=', 'wamid.BAD1').execute()).length, 0, 'nothing written')
})
