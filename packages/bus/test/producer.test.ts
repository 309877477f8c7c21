import diagnostics from 'node:diagnostics_channel'
import { createServer, type Socket } from 'node:net'
import { randomBytes } from 'node:crypto'
import t, { type Test } from 'tap'
import { create, fromBinary } from '@bufbuild/protobuf'
import { DomainEventSchema, MessageStatus, OutboundRequestSchema, RawWebhookSchema } from '@coexist/contracts'
import { BUS_CHANNELS, HEADER, PROTOBUF_CONTENT_TYPE, createBusProducer, createKafka, createTopicRegistry, decodeHeaders, type BatchDiagnostic, type Kafka } from '../src/index.ts'
import { busEnv, countRecords, logger, readRecords } from './helpers.ts'

t.test('a 3 MB raw body round-trips byte for byte', async (t) => {
  const env = await busEnv(t, { only: ['webhook.raw'] })
  const producer = createBusProducer({ kafka: env.kafka, registry: env.registry, logger })
  t.teardown(() => producer.disconnect())
  // Random bytes do not compress: the record really is ~3 MB on the wire.
  const body = randomBytes(3 * 1024 * 1024)
  await producer.publish('webhook.raw', {
    key: '310000000000001',
    value: { body, receivedAt: BigInt(Date.now()), appId: 'app-1', signatureVerified: true, contentType: 'application/json', requestId: 'req-1' }
  })
  const [rec] = await readRecords(env.kafka, env.registry.topic('webhook.raw').name, 1)
  const raw = fromBinary(RawWebhookSchema, rec!.value!)
  t.ok(Buffer.from(raw.body).equals(body), 'body identical')
  t.equal(raw.requestId, 'req-1')
  t.equal(rec!.key!.toString(), '310000000000001')
})

t.test('1,000 concurrent publishes go out in a few batches, each record exactly once, with headers', async (t) => {
  const env = await busEnv(t, { partitions: 3, only: ['outbound.requests'] })
  const producer = createBusProducer({ kafka: env.kafka, registry: env.registry, logger })
  t.teardown(() => producer.disconnect())
  await producer.connect()
  const batches: BatchDiagnostic[] = []
  const onBatch = (m: unknown): void => { batches.push(m as BatchDiagnostic) }
  diagnostics.subscribe(BUS_CHANNELS.batch, onBatch)
  t.teardown(() => diagnostics.unsubscribe(BUS_CHANNELS.batch, onBatch))

  const n = 1000
  await Promise.all(Array.from({ length: n }, (_, i) => producer.publish('outbound.requests', {
    key: `pn-${i % 7}`,
    value: create(OutboundRequestSchema, { requestId: `r-${i}`, tenantId: 'tenant-a', phoneNumberId: `pn-${i % 7}`, acceptedAt: BigInt(Date.now()) }),
    traceId: i === 0 ? 'trace-zero' : undefined
  })))
  const sent = batches.reduce((s, b) => s + b.size, 0)
  t.equal(sent, n, 'every record went through a batch')
  t.ok(batches.length <= 20, `${batches.length} batches for ${n} publishes`)
  t.ok(batches.every((b) => b.ok))

  const topic = env.registry.topic('outbound.requests').name
  t.equal(await countRecords(env, topic), n, 'exactly n records on the topic')
  const recs = await readRecords(env.kafka, topic, n)
  const ids = new Set(recs.map((r) => fromBinary(OutboundRequestSchema, r.value!).requestId))
  t.equal(ids.size, n, 'each request once')
  const h = decodeHeaders(recs.find((r) => fromBinary(OutboundRequestSchema, r.value!).requestId === 'r-0')!.headers)
  t.equal(h[HEADER.schema], 'coexist.outbound.v1.OutboundRequest')
  t.equal(h[HEADER.contentType], PROTOBUF_CONTENT_TYPE)
  t.equal(h[HEADER.eventType], 'outbound.request_accepted')
  t.equal(h[HEADER.tenantId], 'tenant-a', 'tenant taken from the message')
  t.equal(h[HEADER.traceId], 'trace-zero')
  const other = decodeHeaders(recs[1]!.headers)
  t.match(other[HEADER.traceId], /^[0-9a-f]{32}$/, 'trace id generated')

  // Publishes spread over many event-loop turns (as from many HTTP requests) are gathered
  // while the previous batch is in flight.
  batches.length = 0
  const spread: Promise<void>[] = []
  for (let i = 0; i < n; i++) {
    spread.push(producer.publish('outbound.requests', { key: `pn-${i % 7}`, value: { requestId: `s-${i}` } }))
    if (i % 10 === 9) await new Promise((resolve) => setImmediate(resolve))
  }
  await Promise.all(spread)
  t.equal(batches.reduce((s, b) => s + b.size, 0), n)
  t.ok(batches.length < n / 10, `${batches.length} batches for ${n} publishes over ${n / 10} event-loop turns`)
  t.equal(await countRecords(env, topic), 2 * n)
})

t.test('event-type of domain events is the oneof case; extra headers are kept', async (t) => {
  const env = await busEnv(t, { only: ['events'] })
  const producer = createBusProducer({ kafka: env.kafka, registry: env.registry, logger })
  t.teardown(() => producer.disconnect())
  await producer.publish('events', {
    key: 'pn-1',
    value: { eventId: 'e1', tenantId: 't1', phoneNumberId: 'pn-1', event: { case: 'statusChanged', value: { wamid: 'wamid.1', status: MessageStatus.READ } } },
    headers: { 'x-origin': 'test', [HEADER.schema]: 'overridden?' }
  })
  const [rec] = await readRecords(env.kafka, env.registry.topic('events').name, 1)
  const h = decodeHeaders(rec!.headers)
  t.equal(h[HEADER.eventType], 'status_changed')
  t.equal(h[HEADER.schema], 'coexist.events.v1.DomainEvent', 'standard headers win')
  t.equal(h['x-origin'], 'test')
  const ev = fromBinary(DomainEventSchema, rec!.value!)
  t.equal(ev.event.case, 'statusChanged')
})

t.test('a record over the topic limit is refused before sending', async (t) => {
  const registry = createTopicRegistry({ prefix: 'unused.' })
  const kafka = createKafka({ brokers: ['127.0.0.1:1'], clientId: 'x', logger })
  const producer = createBusProducer({ kafka, registry, logger })
  await t.rejects(producer.publish('outbound.requests', { key: null, value: { messageJson: Buffer.alloc(3 * 1024 * 1024) } }), { code: 'BUS_RECORD_TOO_LARGE' })
  await t.rejects(producer.publish('deadletter' as 'events', { key: null, value: {} }), { code: 'BUS_UNKNOWN_TOPIC' })
  await producer.disconnect()
  await t.rejects(producer.publish('events', { key: null, value: {} }), { code: 'BUS_PRODUCER_CLOSED' })
})

/** A kafkajs client whose "broker" accepts connections and never answers (closed at teardown). */
async function silentBrokerKafka (t: Test): Promise<Kafka> {
  const sockets = new Set<Socket>()
  const silent = createServer((s) => { sockets.add(s); s.on('error', () => {}) })
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { for (const s of sockets) s.destroy(); silent.close() })
  const port = (silent.address() as { port: number }).port
  return createKafka({ brokers: [`127.0.0.1:${port}`], clientId: 'x', logger, connectionTimeoutMs: 200, requestTimeoutMs: 1000, retry: { retries: 0 } })
}

t.test('publish rejects with a retryable BUS_PUBLISH_TIMEOUT when the broker does not answer', async (t) => {
  // A "broker" that accepts connections and never answers: kafkajs waits, the deadline fires.
  const kafka = await silentBrokerKafka(t)
  const producer = createBusProducer({ kafka, registry: createTopicRegistry({ prefix: 'unused.' }), logger, publishTimeoutMs: 300 })
  const started = Date.now()
  const err = await producer.publish('events', { key: 'k', value: { eventId: 'e' } }).catch((e: unknown) => e)
  const took = Date.now() - started
  t.match(err, { code: 'BUS_PUBLISH_TIMEOUT', retryable: true, status: 503, detail: { inFlight: false } })
  t.ok(took >= 290 && took < 2000, `rejected after ${took} ms`)
  await producer.disconnect({ timeoutMs: 100 }).catch(() => {})
})

t.test('each publish keeps its own deadline: a shorter one enqueued later rejects first', async (t) => {
  // One timer watches every pending record's deadline; it must re-arm for an earlier one.
  const kafka = await silentBrokerKafka(t)
  const producer = createBusProducer({ kafka, registry: createTopicRegistry({ prefix: 'unused.' }), logger, publishTimeoutMs: 5000 })
  const order: string[] = []
  const outcome = (name: string, p: Promise<void>): Promise<unknown> => p.then(() => 'resolved', (e: unknown) => { order.push(name); return e })
  const late = outcome('late', producer.publish('events', { key: 'k', value: { eventId: 'a' } }, { timeoutMs: 900 }))
  const early = outcome('early', producer.publish('events', { key: 'k', value: { eventId: 'b' } }, { timeoutMs: 150 }))
  const [lateErr, earlyErr] = await Promise.all([late, early])
  t.same(order, ['early', 'late'])
  t.match(earlyErr, { code: 'BUS_PUBLISH_TIMEOUT', detail: { timeoutMs: 150, inFlight: false } })
  t.match(lateErr, { code: 'BUS_PUBLISH_TIMEOUT', detail: { timeoutMs: 900, inFlight: false } })
  await producer.flush() // nothing pending any more
  await producer.disconnect({ timeoutMs: 100 }).catch(() => {})
})

t.test('publish rejects quickly and retryably when no broker listens', async (t) => {
  const kafka = createKafka({ brokers: ['127.0.0.1:1'], clientId: 'x', logger, connectionTimeoutMs: 200, retry: { retries: 0 } })
  const producer = createBusProducer({ kafka, registry: createTopicRegistry({ prefix: 'unused.' }), logger, publishTimeoutMs: 1000 })
  const err = await producer.publish('events', { key: 'k', value: { eventId: 'e' } }).catch((e: unknown) => e)
  t.match(err, { retryable: true, status: 503 })
  t.ok(['BUS_PUBLISH_FAILED', 'BUS_PUBLISH_TIMEOUT'].includes((err as { code: string }).code))
  await producer.disconnect({ timeoutMs: 100 }).catch(() => {})
})
