/**
 * A month of mixed traffic through Kafka into the ledger, as ingress and the outbound sender
 * publish it: OutboundResults, status webhooks (with and without Meta's pricing object), users'
 * messages (one through a Click-to-WhatsApp ad), a Business App echo, a Meta volume-tier update.
 * The ledger and the totals must come out exactly; delivering everything three times over, in
 * another order, changes nothing; a replay into an empty database gives the same ledger.
 */
import t from 'tap'
import { accountUpdateWebhook, echoWebhook, inboundTextWebhook, pricing, statusWebhook, type WebhookBody } from '@coexist/meta/fixtures'
import { createDb, sql, type Db } from '@coexist/db'
import { testDatabase } from '@coexist/testkit'
import { startBillingRuntime } from '../src/runtime.ts'
import { usageIdOf } from '../src/ledger/pricer.ts'
import { ADMIN_KEY, bearer, billingEnv, logger, type BillingEnv } from './harness.ts'

const ms = (s: string): number => Date.parse(s)
const sec = (m: number): string => String(Math.floor(m / 1000))

const BR1 = '5511988880001'
const BR3 = '5511988880003'
const AD1 = '5511988880002'
const IN1 = '919800000001'
const US1 = '16505550001'
const DE1 = '4915100000001'

interface Send { wamid: string, pn: 'pn' | 'pn2', to: string, category: string, at: string, meta?: [string, string] | null, fail?: boolean }

/** The month. `meta`: Meta's pricing object [type, category] on sent and delivered; null = none. */
const SENDS: Send[] = [
  { wamid: 'wamid.M01', pn: 'pn', to: BR1, category: 'marketing', at: '2026-01-03T10:00:00Z', meta: ['regular', 'marketing'] },
  { wamid: 'wamid.M02', pn: 'pn', to: BR1, category: 'service', at: '2026-01-03T12:30:00Z', meta: null },
  { wamid: 'wamid.M03', pn: 'pn', to: BR1, category: 'utility', at: '2026-01-03T13:00:00Z', meta: ['free_customer_service', 'utility'] },
  { wamid: 'wamid.M04', pn: 'pn', to: BR1, category: 'utility', at: '2026-01-05T09:00:00Z', meta: ['regular', 'utility'] },
  { wamid: 'wamid.M05', pn: 'pn2', to: IN1, category: 'authentication', at: '2026-01-07T08:00:00Z', meta: ['regular', 'authentication'] },
  { wamid: 'wamid.M06', pn: 'pn2', to: DE1, category: 'authentication', at: '2026-01-08T08:00:00Z', meta: ['regular', 'authentication'] },
  { wamid: 'wamid.M07', pn: 'pn', to: US1, category: 'marketing', at: '2026-01-10T15:00:00Z', meta: ['regular', 'marketing'], fail: true },
  { wamid: 'wamid.M08', pn: 'pn', to: US1, category: 'marketing', at: '2026-01-11T15:00:00Z', meta: ['regular', 'marketing'] },
  { wamid: 'wamid.M09', pn: 'pn', to: AD1, category: 'service', at: '2026-01-15T11:00:00Z', meta: ['free_entry_point', 'referral_conversion'] },
  { wamid: 'wamid.M10', pn: 'pn', to: AD1, category: 'marketing', at: '2026-01-16T09:00:00Z', meta: ['free_entry_point', 'referral_conversion'] },
  { wamid: 'wamid.M11', pn: 'pn', to: AD1, category: 'marketing', at: '2026-01-19T12:00:00Z', meta: ['regular', 'marketing'] },
  { wamid: 'wamid.M12', pn: 'pn', to: BR3, category: 'marketing_lite', at: '2026-01-22T12:00:00Z', meta: ['regular', 'marketing_lite'] },
  // Meta spells it with a hyphen in status webhooks.
  { wamid: 'wamid.M13', pn: 'pn2', to: IN1, category: 'authentication', at: '2026-01-25T12:00:00Z', meta: ['regular', 'authentication-international'] },
  // The deliberate disagreement: we see no window, Meta says free inside one.
  { wamid: 'wamid.M14', pn: 'pn2', to: DE1, category: 'utility', at: '2026-01-27T12:00:00Z', meta: ['free_customer_service', 'utility'] },
  // 31 Jan 23:30 in São Paulo: February in UTC (next month's invoice), January for tiers.
  { wamid: 'wamid.M15', pn: 'pn', to: BR1, category: 'marketing', at: '2026-02-01T02:30:00Z', meta: ['regular', 'marketing'] }
]

/** What the ledger must hold: wamid → [state, category, free_reason, unit micros, billed micros]. */
const EXPECTED: Record<string, [string, string, string | null, number, number]> = {
  'wamid.M01': ['charged', 'marketing', null, 57_000, 62_700],
  'wamid.M02': ['free', 'service', 'service_window', 0, 0],
  'wamid.M03': ['free', 'utility', 'utility_in_window', 0, 0],
  'wamid.M04': ['charged', 'utility', null, 17_000, 18_700],
  'wamid.M05': ['charged', 'authentication', null, 6_000, 6_600],
  'wamid.M06': ['charged', 'authentication', null, 23_000, 25_300],
  'wamid.M07': ['free', 'marketing', 'not_delivered', 0, 0],
  'wamid.M08': ['charged', 'marketing', null, 58_000, 63_800],
  'wamid.M09': ['free', 'referral_conversion', 'free_entry_point', 0, 0],
  'wamid.M10': ['free', 'referral_conversion', 'free_entry_point', 0, 0],
  'wamid.M11': ['charged', 'marketing', null, 57_000, 62_700],
  'wamid.M12': ['charged', 'marketing_lite', null, 57_000, 62_700],
  'wamid.M13': ['charged', 'authentication_international', null, 34_000, 37_400],
  'wamid.M14': ['free', 'utility', 'utility_in_window', 0, 0],
  'wamid.M15': ['charged', 'marketing', null, 57_000, 62_700],
  'wamid.E01': ['free', 'service', 'business_app', 0, 0],
  'wamid.O01': ['charged', 'marketing', null, 58_000, 58_000]
}

function bodies (env: BillingEnv): { results: Parameters<BillingEnv['publishResult']>[0][], webhooks: WebhookBody[] } {
  const scope = (pn: 'pn' | 'pn2') => ({ phoneNumberId: pn === 'pn' ? env.pn : env.pn2, wabaId: env.wabaId, displayPhoneNumber: '5511999990000' })
  const results: Parameters<BillingEnv['publishResult']>[0][] = []
  const webhooks: WebhookBody[] = []
  for (const s of SENDS) {
    const at = ms(s.at)
    results.push({ wamid: s.wamid, tenantId: env.tenantId, phoneNumberId: scope(s.pn).phoneNumberId, recipient: `+${s.to}`, category: s.category, sentAt: at })
    const p = s.meta === null || s.meta === undefined ? undefined : pricing(s.meta[1], s.meta[0])
    webhooks.push(statusWebhook({ ...scope(s.pn), wamid: s.wamid, status: 'sent', recipientId: s.to, timestamp: sec(at + 1000), pricing: p }))
    if (s.fail === true) {
      webhooks.push(statusWebhook({ ...scope(s.pn), wamid: s.wamid, status: 'failed', recipientId: s.to, timestamp: sec(at + 5000), errors: [{ code: 131049, title: 'This message was not delivered to maintain healthy ecosystem engagement.' }] }))
    } else {
      webhooks.push(statusWebhook({ ...scope(s.pn), wamid: s.wamid, status: 'delivered', recipientId: s.to, timestamp: sec(at + 3000), pricing: p }))
      webhooks.push(statusWebhook({ ...scope(s.pn), wamid: s.wamid, status: 'read', recipientId: s.to, timestamp: sec(at + 60_000) }))
    }
  }
  // Users' messages: BR1 opens a window; AD1 came through a Click-to-WhatsApp ad.
  webhooks.push(inboundTextWebhook({ ...scope('pn'), from: BR1, wamid: 'wamid.IN1', timestamp: sec(ms('2026-01-03T12:00:00Z')) }))
  webhooks.push(inboundTextWebhook({ ...scope('pn'), from: AD1, wamid: 'wamid.IN2', timestamp: sec(ms('2026-01-15T10:00:00Z')), referral: { source_type: 'ad', source_id: '120000000000', source_url: 'https://fb.me/x', ctwa_clid: 'ARAkLkA8rmlFeiCktEJQ' } }))
  // Sent from the Business App: free, even with a delivered status after it.
  webhooks.push(echoWebhook({ ...scope('pn'), to: BR1, wamid: 'wamid.E01', timestamp: sec(ms('2026-01-20T09:00:00Z')) }))
  webhooks.push(statusWebhook({ ...scope('pn'), wamid: 'wamid.E01', status: 'delivered', recipientId: BR1, timestamp: sec(ms('2026-01-20T09:00:05Z')) }))
  // Another tenant's message (walls).
  results.push({ wamid: 'wamid.O01', tenantId: env.otherTenantId, phoneNumberId: env.otherPn, recipient: US1, category: 'marketing', sentAt: ms('2026-01-12T10:00:00Z') })
  webhooks.push(statusWebhook({ phoneNumberId: env.otherPn, wabaId: env.otherWabaId, wamid: 'wamid.O01', status: 'delivered', recipientId: US1, timestamp: sec(ms('2026-01-12T10:00:03Z')), pricing: pricing('marketing', 'regular') }))
  // A tier update for a market/category this month did not reach: stored, reprices nothing.
  webhooks.push(accountUpdateWebhook('VOLUME_BASED_PRICING_TIER_UPDATE', {
    wabaId: env.wabaId,
    extra: { volume_tier_info: { tier_update_time: Math.floor(ms('2026-01-28T00:00:00Z') / 1000), pricing_category: 'UTILITY', tier: '101:1000', effective_month: '2026-01', region: 'India' } }
  }))
  return { results, webhooks }
}

async function publishAll (env: BillingEnv, shuffle: boolean): Promise<void> {
  const { results, webhooks } = bodies(env)
  const jobs: (() => Promise<void>)[] = [...results.map((r) => async () => { await env.publishResult(r) }), ...webhooks.map((b) => async () => { await env.publishBody(b) })]
  if (shuffle) jobs.reverse()
  await Promise.all(jobs.map(async (j) => { await j() }))
}

type Snapshot = Record<string, [string, string | null, string | null, number, number, string | null, string | null]>

async function snapshot (db: Db): Promise<Snapshot> {
  const rows = await db.selectFrom('billing_ledger').select(['wamid', 'state', 'category', 'free_reason', 'unit_price_micros', 'billed_price_micros', 'tier', 'market']).orderBy('wamid').execute()
  return Object.fromEntries(rows.map((r) => [r.wamid, [r.state, r.category, r.free_reason, Number(r.unit_price_micros), Number(r.billed_price_micros), r.tier, r.market]]))
}

t.test('a month of mixed traffic gives exactly the expected ledger and totals; triple delivery changes nothing; a replay gives the same ledger', async (t) => {
  const env = await billingEnv(t)
  const plan = await env.inject({ method: 'PUT', url: `/v1/billing/tenants/${env.tenantId}/plan`, headers: bearer(ADMIN_KEY), payload: { markup_percent_bps: 1000 } })
  t.equal(plan.statusCode, 200)

  // Users' messages land first here; the triple delivery below sends everything in reverse.
  await publishAll(env, false)
  await env.caughtUp()

  const ledger = await snapshot(env.db)
  t.same(Object.keys(ledger).sort(), Object.keys(EXPECTED).sort(), 'one line per message, nothing else (users\' messages are not billed)')
  for (const [wamid, [state, category, reason, unit, billed]] of Object.entries(EXPECTED)) {
    t.same(ledger[wamid]?.slice(0, 5), [state, category, reason, unit, billed], wamid)
  }
  t.same(ledger['wamid.M04']?.slice(5), ['1:100', 'Brazil'], 'utility priced in its first volume band')
  t.same(ledger['wamid.M08']?.slice(6), ['North America'])

  const inv = (await env.inject({ method: 'GET', url: '/v1/billing/invoices/2026-01', headers: bearer(env.tenantKey) })).json()
  t.same(inv.totals, [{ currency: 'USD', messages: 15, charged: 8, free: 7, meta_cost_micros: 309_000, billed_micros: 339_900, meta_cost: '0.309', billed: '0.3399' }], 'January totals')
  t.equal(inv.pending, 0)
  const feb = (await env.inject({ method: 'GET', url: '/v1/billing/usage?from=2026-02-01T00:00:00Z&to=2026-03-01T00:00:00Z', headers: bearer(env.tenantKey) })).json()
  t.same(feb.data.map((r: { category: string, charged: number, billed: string }) => [r.category, r.charged, r.billed]), [['marketing', 1, '0.0627']], 'M15 belongs to February (UTC)')
  const balance = (await env.inject({ method: 'GET', url: '/v1/billing/balance', headers: bearer(env.tenantKey) })).json()
  t.equal(balance.data[0].balance_micros, -(339_900 + 62_700), 'postpaid: the balance runs negative by the billed amount')

  const disagreements = (await env.inject({ method: 'GET', url: '/v1/billing/reconciliation/disagreements?from=2026-01-01T00:00:00Z&to=2026-03-01T00:00:00Z', headers: bearer(env.tenantKey) })).json()
  t.same(disagreements.data.map((d: { wamid: string }) => d.wamid), ['wamid.M13', 'wamid.M14'], 'only the deliberate disagreements')
  t.match(disagreements.data[1], {
    wamid: 'wamid.M14',
    ours: { billable: true, category: 'utility', free_reason: null },
    meta: { billable: false, category: 'utility', pricing_type: 'free_customer_service', pricing_model: 'PMP' },
    billed: { state: 'free', decided_by: 'meta', billed_price_micros: 0 }
  }, 'both sides shown; Meta\'s pricing decided the bill')
  t.match(disagreements.data[0], { ours: { category: 'authentication' }, meta: { category: 'authentication_international' } }, 'Meta\'s hyphenated spelling is read as authentication_international')
  const other = (await env.inject({ method: 'GET', url: '/v1/billing/reconciliation/disagreements?from=2026-01-01T00:00:00Z&to=2026-03-01T00:00:00Z', headers: bearer(env.otherTenantKey) })).json()
  t.same(other.data, [], 'walled')

  // Every settled line went out as a UsageRecord (key = tenant); the latest revision matches the ledger.
  const settled = Object.keys(EXPECTED).length
  const usage = await env.published('billing.usage')
  const latest = new Map<string, NonNullable<(typeof usage)[number]['usage']>>()
  for (const u of usage) if (u.usage !== undefined && (latest.get(u.usage.usageId)?.revision ?? 0) < u.usage.revision) latest.set(u.usage.usageId, u.usage)
  t.equal(latest.size, settled)
  const m13 = latest.get(usageIdOf('wamid.M13'))
  t.match(m13, { tenantId: env.tenantId, wamid: 'wamid.M13', category: 'authentication_international', market: 'India', billable: true, currency: 'USD', rateCardVersion: 'sample-2026q1', origin: 'api', country: 'IN' })
  t.equal(m13?.metaCostMicros, 34_000n)
  t.equal(m13?.billedPriceMicros, 37_400n)
  t.match(latest.get(usageIdOf('wamid.E01')), { billable: false, freeReason: 'business_app', origin: 'business_app' })
  t.ok(usage.every((u) => u.key === u.usage?.tenantId), 'keyed by tenant id')
  const usageBefore = usage.length

  // Triple delivery, in reverse order: nothing changes.
  const before = { ledger, revisions: await env.db.selectFrom('billing_ledger').select(['wamid', 'revision']).orderBy('wamid').execute() }
  await publishAll(env, true)
  await publishAll(env, true)
  await env.caughtUp()
  t.same(await snapshot(env.db), before.ledger, 'the same ledger after triple delivery')
  t.same(await env.db.selectFrom('billing_ledger').select(['wamid', 'revision']).orderBy('wamid').execute(), before.revisions, 'no new revisions')
  const balanceAfter = (await env.inject({ method: 'GET', url: '/v1/billing/balance', headers: bearer(env.tenantKey) })).json()
  t.equal(balanceAfter.data[0].balance_micros, balance.data[0].balance_micros, 'charged once')
  const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM billing_outbox`.execute(env.db)
  t.equal(rows[0]?.n, 0, 'nothing left to publish')
  const usageAfter = await env.published('billing.usage')
  t.equal(usageAfter.length, usageBefore, 'no new usage records')

  // A replay of the topics into an empty database (same accounts, same card) gives the same ledger.
  const { url } = await testDatabase(t)
  const replayDb = createDb(url, { max: 5 })
  t.teardown(() => replayDb.destroy())
  await copyAccounts(env.db, replayDb)
  const replay = await startBillingRuntime({ db: replayDb, kafka: env.kafka, registry: env.registry, producer: env.producer, logger, clock: env.clock.now, groupId: `${env.groupId}-replay` })
  t.teardown(() => replay.stop())
  await env.caughtUp(30_000, `${env.groupId}-replay`)
  t.same(await snapshot(replayDb), before.ledger, 'replayed ledger is identical')
})

/** Copies the accounts, plans and rate cards a replay needs (nothing of the ledger). */
async function copyAccounts (from: Db, to: Db): Promise<void> {
  for (const table of ['tenants', 'wabas', 'phone_numbers', 'billing_tenant_plans', 'billing_rate_cards', 'billing_rates'] as const) {
    const rows = await from.selectFrom(table).selectAll().execute()
    if (rows.length === 0) continue
    if (table === 'billing_rate_cards') {
      await sql`INSERT INTO billing_rate_cards OVERRIDING SYSTEM VALUE SELECT * FROM jsonb_populate_recordset(NULL::billing_rate_cards, ${JSON.stringify(rows)}::jsonb)`.execute(to)
    } else {
      await sql`INSERT INTO ${sql.table(table)} SELECT * FROM jsonb_populate_recordset(NULL::${sql.table(table)}, ${JSON.stringify(rows, (_k, v: unknown) => Buffer.isBuffer(v) ? `\\x${v.toString('hex')}` : (v as { type?: string, data?: number[] })?.type === 'Buffer' ? `\\x${Buffer.from((v as { data: number[] }).data).toString('hex')}` : v)}::jsonb)`.execute(to)
    }
  }
}
