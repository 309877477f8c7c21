import t from 'tap'
import kafkajs, { type Admin } from 'kafkajs'
import { testKafkaBrokers, testTopicPrefix } from '@coexist/testkit'
import { RawWebhookSchema, UnroutedWebhookSchema, WebhookChangeSchema } from '@coexist/contracts'
import { LARGE_MESSAGE_BYTES, TOPIC_KEYS, WEBHOOK_FIELDS, createKafka, createTopicRegistry, describeTopicConfig, ensureTopics, kafkaReady, webhookTopicKey } from '../src/index.ts'
import { busEnv, logger } from './helpers.ts'

const { KafkaJSProtocolError } = kafkajs

t.test('the registry names every architecture topic under the prefix, with its contract', async (t) => {
  const r = createTopicRegistry()
  t.equal(r.prefix, 'wa.')
  t.equal(r.topic('webhook.raw').name, 'wa.webhook.raw.v1')
  t.equal(r.topic('webhook.raw').schema, RawWebhookSchema)
  for (const f of WEBHOOK_FIELDS) {
    t.equal(r.topic(`webhook.${f}`).name, `wa.webhook.${f}.v1`)
    t.equal(r.topic(`webhook.${f}`).schema, WebhookChangeSchema)
  }
  t.equal(r.topic('webhook.unrouted').schema, UnroutedWebhookSchema)
  t.same(['outbound.requests', 'outbound.results', 'outbound.dlq', 'events', 'billing.usage'].map((k) => r.topic(k as 'events').name),
    ['wa.outbound.requests.v1', 'wa.outbound.results.v1', 'wa.outbound.dlq.v1', 'wa.events.v1', 'wa.billing.usage.v1'])
  t.equal(r.all().length, TOPIC_KEYS.length)
  t.equal(new Set(r.all().map((s) => s.name)).size, TOPIC_KEYS.length, 'names are unique')
  t.equal(r.byName('wa.events.v1')?.key, 'events')
  t.equal(r.topic('outbound.requests').keyMeaning.startsWith('phone_number_id'), true)
})

t.test('webhook fields map to their topic, unknown fields to unrouted', async (t) => {
  t.equal(webhookTopicKey('messages'), 'webhook.messages')
  t.equal(webhookTopicKey('smb_message_echoes'), 'webhook.smb_message_echoes')
  t.equal(webhookTopicKey('security'), 'webhook.unrouted')
  t.equal(webhookTopicKey(''), 'webhook.unrouted')
  t.equal(webhookTopicKey('__proto__'), 'webhook.unrouted')
  t.equal(createTopicRegistry({ prefix: 'x.' }).forWebhookField('partner_solutions').name, 'x.webhook.unrouted.v1')
})

t.test('big-body topics take 8 MiB records; partitions and replication are configurable', async (t) => {
  const r = createTopicRegistry({ prefix: 'p.', partitions: { 'webhook.messages': 24 }, replicationFactor: 3 })
  t.equal(r.topic('webhook.raw').maxMessageBytes, LARGE_MESSAGE_BYTES)
  t.equal(r.topic('webhook.raw').config['max.message.bytes'], String(8 * 1024 * 1024))
  t.equal(r.topic('webhook.raw').config['compression.type'], 'gzip')
  t.equal(r.topic('webhook.history').config['compression.type'], 'gzip')
  t.equal(r.topic('webhook.messages').partitions, 24)
  t.equal(r.topic('webhook.history').partitions, 12)
  t.equal(r.topic('events').replicationFactor, 3)
  t.equal(r.topic('events').config['min.insync.replicas'], '2')
  t.equal(createTopicRegistry({ partitions: 2 }).topic('outbound.requests').partitions, 2)
  t.throws(() => createTopicRegistry({ prefix: 'no-dot' }), { code: 'BUS_INVALID_OPTIONS' })
  t.throws(() => createTopicRegistry({ partitions: 0 }), { code: 'BUS_INVALID_OPTIONS' })
  t.throws(() => r.topic('nope' as 'events'), { code: 'BUS_UNKNOWN_TOPIC' })
})

t.test('event types', async (t) => {
  const r = createTopicRegistry()
  t.equal(r.topic('webhook.history').eventType({} as never), 'webhook.history')
  t.equal(r.topic('events').eventType({ event: { case: 'messageReceived' } } as never), 'message_received')
  t.equal(r.topic('outbound.results').eventType({ status: 1 } as never), 'outbound.sent')
})

t.test('ensureTopics creates the topics with their config and waits for leaders (real Kafka)', async (t) => {
  const env = await busEnv(t, { partitions: 2 })
  const names = env.registry.all().map((s) => s.name)
  const meta = await env.admin.fetchTopicMetadata({ topics: names })
  t.equal(meta.topics.length, names.length)
  for (const topic of meta.topics) {
    t.equal(topic.partitions.length, 2, `${topic.name} has 2 partitions`)
    t.ok(topic.partitions.every((p) => p.leader >= 0), `${topic.name} has leaders`)
  }
  const raw = await describeTopicConfig(env.admin, env.registry.topic('webhook.raw').name, ['max.message.bytes', 'compression.type', 'retention.ms'])
  t.same(raw, { 'max.message.bytes': '8388608', 'compression.type': 'gzip', 'retention.ms': String(30 * 24 * 3600 * 1000) })
  const history = await describeTopicConfig(env.admin, env.registry.topic('webhook.history').name, ['max.message.bytes'])
  t.equal(history['max.message.bytes'], '8388608')
  const msgs = await describeTopicConfig(env.admin, env.registry.topic('webhook.messages').name, ['max.message.bytes'])
  t.equal(msgs['max.message.bytes'], '8388608')
  const out = await describeTopicConfig(env.admin, env.registry.topic('outbound.requests').name, ['max.message.bytes'])
  t.equal(out['max.message.bytes'], String(2 * 1024 * 1024))

  // A second run (another service starting) creates nothing and succeeds.
  const again = await ensureTopics(env.admin, env.registry)
  t.same(again.created, [])
  t.equal(again.existing.length, names.length)
})

t.test('kafkaReady answers true on the real broker and false, in time, without one', async (t) => {
  const env = await busEnv(t, { only: ['events'] })
  // A CI broker busy creating the topics of parallel test files may take longer than the default 2 s probe.
  t.match(await kafkaReady(env.admin, 15_000), { ready: true, brokers: 1 })

  const kafka = createKafka({ brokers: ['127.0.0.1:1'], clientId: 'x', logger, connectionTimeoutMs: 100, retry: { retries: 0 } })
  const admin = kafka.admin()
  const started = Date.now()
  const [a, b] = await Promise.all([kafkaReady(admin, 300), kafkaReady(admin, 300)])
  t.equal(a.ready, false)
  t.type(a.error, 'string')
  t.equal(a, b, 'concurrent probes share one request')
  t.ok(Date.now() - started < 1000)
  await admin.disconnect()
})

/**
 * The real admin, seen through a broker whose metadata lags behind its controller (as on a busy
 * CI machine creating topics for many parallel tests): after a creation, the next `lag` metadata
 * answers say UNKNOWN_TOPIC_OR_PARTITION and the listing misses the new topics. createTopics with
 * waitForLeaders behaves as kafkajs's own does: it polls that metadata and gives up at the first
 * error other than LEADER_NOT_AVAILABLE.
 */
function laggingAdmin (admin: Admin, lag: number): { admin: Admin, lagged: () => number } {
  let left = 0
  let lagged = 0
  let fresh = new Set<string>()
  const unknown = (): Error => new KafkaJSProtocolError(Object.assign(new Error('This server does not host this topic-partition'), { type: 'UNKNOWN_TOPIC_OR_PARTITION', code: 3, retriable: true }))
  const fetchTopicMetadata: Admin['fetchTopicMetadata'] = async (o) => {
    if (left > 0) { left--; lagged++; throw unknown() }
    return await admin.fetchTopicMetadata(o)
  }
  const wrapped: Admin = {
    ...admin,
    async listTopics () {
      const all = await admin.listTopics()
      return left > 0 ? all.filter((n) => !fresh.has(n)) : all
    },
    fetchTopicMetadata,
    async createTopics (o) {
      const created = await admin.createTopics({ ...o, waitForLeaders: false })
      fresh = new Set(o.topics.map((x) => x.topic))
      left = lag
      if (o.waitForLeaders === true) await fetchTopicMetadata({ topics: [...fresh] })
      return created
    }
  }
  return { admin: wrapped, lagged: () => lagged }
}

t.test('ensureTopics waits out a broker whose metadata lags behind the topics just created (busy CI broker)', async (t) => {
  const kafka = createKafka({ brokers: testKafkaBrokers(), clientId: 'bus-test', logger })
  const admin = kafka.admin()
  await admin.connect()
  t.teardown(() => admin.disconnect())
  const registry = createTopicRegistry({ prefix: testTopicPrefix(), partitions: 2 })
  const only = [registry.topic('events'), registry.topic('outbound.requests')]
  const slow = laggingAdmin(admin, 5)
  const r = await ensureTopics(slow.admin, registry, { only, timeoutMs: 20_000 })
  t.same(r.created.sort(), only.map((s) => s.name).sort())
  t.equal(slow.lagged(), 5, 'the broker did answer UNKNOWN_TOPIC_OR_PARTITION meanwhile')
  const meta = await admin.fetchTopicMetadata({ topics: only.map((s) => s.name) })
  t.ok(meta.topics.every((x) => x.partitions.length === 2 && x.partitions.every((p) => p.leader >= 0)), 'every partition has a leader on return')
})

t.test('ensureTopics fails at once when Kafka refuses the creation, and in time when leaders never come', async (t) => {
  const kafka = createKafka({ brokers: testKafkaBrokers(), clientId: 'bus-test', logger })
  const admin = kafka.admin()
  await admin.connect()
  t.teardown(() => admin.disconnect())
  // One broker: a replication factor of 3 is refused (INVALID_REPLICATION_FACTOR).
  const registry = createTopicRegistry({ prefix: testTopicPrefix(), replicationFactor: 3 })
  const started = Date.now()
  await t.rejects(ensureTopics(admin, registry, { only: [registry.topic('events')], timeoutMs: 30_000 }), { code: 'BUS_TOPICS_NOT_READY' })
  t.ok(Date.now() - started < 15_000, 'a refusal is not waited on until the deadline')

  // A broker that never learns the topic: BUS_TOPICS_NOT_READY once the deadline has passed.
  const ok = createTopicRegistry({ prefix: testTopicPrefix() })
  const never = laggingAdmin(admin, Number.POSITIVE_INFINITY)
  const t0 = Date.now()
  await t.rejects(ensureTopics(never.admin, ok, { only: [ok.topic('events')], timeoutMs: 800 }), { code: 'BUS_TOPICS_NOT_READY', message: /topics without leaders/ })
  t.ok(Date.now() - t0 >= 800, 'waited until the deadline')
})
