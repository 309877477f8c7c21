import t from 'tap'
import { startSimulator } from '@coexist/meta-simulator'
import { inboundTextWebhook, statusWebhook } from '@coexist/meta/fixtures'
import { APP_ID, APP_SECRET, metricValue, readIngressTopics, startIngress } from '../helpers.ts'

const BURST = 1000

t.test(`a burst of ${BURST} concurrent webhooks: all land, each exactly once in the raw topic, in shared batches`, async (t) => {
  const ing = await startIngress(t, { partitions: 3 })
  const sim = await startSimulator({
    port: 0,
    webhookTarget: { url: `${ing.url}/webhooks/meta/${APP_ID}`, appSecret: APP_SECRET, appId: APP_ID },
    // One attempt each: a retry would make a second copy, and every POST must succeed the first time.
    emitter: { retry: { maxAttempts: 1 }, connections: BURST, timeoutMs: 30_000 }
  })
  t.teardown(sim.close)
  const bodies = Array.from({ length: BURST }, (_, i) => i % 2 === 0
    ? inboundTextWebhook({ wamid: `wamid.BURST_${i}`, phoneNumberId: `6200000000${String(i % 7).padStart(5, '0')}` })
    : statusWebhook({ wamid: `wamid.BURST_${i}`, status: 'delivered' }))

  const results = await sim.control.emitMany(bodies, { concurrency: BURST })
  const statuses = new Map<number, number>()
  for (const r of results) statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1)
  t.same(Object.fromEntries(statuses), { 200: BURST }, 'every POST answered 200 on its first attempt')

  const got = await readIngressTopics(ing, ['webhook.raw', 'webhook.messages'])
  const wamidOf = (json: string): string => /wamid\.BURST_\d+/.exec(json)?.[0] ?? 'none'
  const rawCounts = new Map<string, number>()
  for (const r of got.raw) {
    const id = wamidOf(Buffer.from(r.decoded.body).toString())
    rawCounts.set(id, (rawCounts.get(id) ?? 0) + 1)
  }
  t.equal(got.raw.length, BURST, 'as many raw records as webhooks')
  t.equal(rawCounts.size, BURST, 'every webhook in the raw topic')
  t.ok([...rawCounts.values()].every((n) => n === 1), 'each exactly once')
  t.equal(new Set(got.changes.map((c) => wamidOf(Buffer.from(c.decoded.valueJson).toString()))).size, BURST, 'every change on webhook.messages')
  t.equal(got.changes.length, BURST)

  const m = await ing.metrics()
  const batches = metricValue(m, 'ingress_kafka_batch_records_count')
  const records = metricValue(m, 'ingress_kafka_batch_records_sum')
  t.equal(records, 2 * BURST, 'the batches carried every record (raw + change per webhook)')
  // Without group commit every request would be a batch of its own (BURST batches). How many
  // requests share a batch depends on the machine's load (36 batches idle, ~400 on a saturated
  // 2-core box), so the check is that they share at all, not by how much.
  t.ok(batches < BURST, `group commit: ${BURST} requests in ${batches} batches`)
  t.equal(metricValue(m, 'ingress_webhook_requests_total', { outcome: 'routed' }), BURST)
})
