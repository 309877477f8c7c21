import diagnostics from 'node:diagnostics_channel'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import t from 'tap'
import { create, toBinary } from '@bufbuild/protobuf'
import { CoexistError } from '@coexist/errors'
import { WebhookChangeSchema } from '@coexist/contracts'
import {
  BUS_CHANNELS, DEAD_LETTER_HEADER, HEADER, createBusConsumer, createBusProducer, decodeHeaders,
  type BusConsumerOptions, type BusProducer, type CommitDiagnostic
} from '../src/index.ts'
import type { Teardown } from '@coexist/testkit'
import { busEnv, groupId, logger, readRecords, until, type BusTestEnv } from './helpers.ts'

/** Quick settings: small timeouts so joins, commits and stops take milliseconds, not seconds. */
const FAST = { sessionTimeoutMs: 6000, heartbeatIntervalMs: 300, rebalanceTimeoutMs: 6000, maxWaitTimeMs: 100, commitIntervalMs: 50, joinTimeoutMs: 20_000 }

async function producerFor (t: Teardown, env: BusTestEnv): Promise<BusProducer> {
  const p = createBusProducer({ kafka: env.kafka, registry: env.registry, logger })
  t.teardown(() => p.disconnect())
  await p.connect()
  return p
}

function consumerFor (t: Teardown, env: BusTestEnv, producer: BusProducer, o: Pick<BusConsumerOptions, 'handlers'> & Partial<BusConsumerOptions>): ReturnType<typeof createBusConsumer> {
  const c = createBusConsumer({ kafka: env.kafka, registry: env.registry, producer, logger, groupId: groupId('c'), ...FAST, ...o })
  t.teardown(() => c.stop())
  return c
}

const change = (i: number, key = 'pn-1'): ReturnType<typeof create<typeof WebhookChangeSchema>> =>
  create(WebhookChangeSchema, { field: 'messages', phoneNumberId: key, changeIndex: i, rawRequestId: `req-${i}` })

t.test('an undecodable record goes to the dead-letter topic with the issue in headers; the rest is handled', async (t) => {
  const env = await busEnv(t, { only: ['webhook.messages', 'deadletter'] })
  const producer = await producerFor(t, env)
  const seen: number[] = []
  const consumer = consumerFor(t, env, producer, { handlers: { 'webhook.messages': { handle: (r) => { seen.push(r.value.changeIndex) } } } })
  await producer.publish('webhook.messages', { key: 'pn-1', value: change(1) })
  // Bytes that are not a protobuf message (a truncated length-delimited field).
  await producer.publishRaw('webhook.messages', { key: 'pn-1', value: Buffer.from([0x3a, 0xff, 0xff, 0x01]), headers: { [HEADER.traceId]: 'bad-trace' } })
  // A valid encoding of another contract, labelled as such.
  await producer.publishRaw('webhook.messages', { key: 'pn-1', value: toBinary(WebhookChangeSchema, change(9)), headers: { [HEADER.schema]: 'coexist.outbound.v1.OutboundRequest' } })
  await producer.publish('webhook.messages', { key: 'pn-1', value: change(2) })
  await consumer.start()
  await until(() => seen.length === 2, 10_000, 'valid records')
  t.same(seen, [1, 2], 'valid records handled in order, invalid ones skipped')

  const dead = await readRecords(env.kafka, env.registry.topic('deadletter').name, 2)
  const [decode, mismatch] = dead.map((r) => ({ h: decodeHeaders(r.headers), r }))
  t.equal(decode!.h[DEAD_LETTER_HEADER.reason], 'decode')
  t.equal(decode!.h[DEAD_LETTER_HEADER.errorCode], 'BUS_DECODE_FAILED')
  t.match(decode!.h[DEAD_LETTER_HEADER.error], /WebhookChange/)
  t.equal(decode!.h[DEAD_LETTER_HEADER.sourceTopic], env.registry.topic('webhook.messages').name)
  t.equal(decode!.h[DEAD_LETTER_HEADER.sourceOffset], '1')
  t.equal(decode!.h[HEADER.traceId], 'bad-trace', 'original headers kept')
  t.same([...decode!.r.value!], [0x3a, 0xff, 0xff, 0x01], 'original bytes kept')
  t.equal(decode!.r.key!.toString(), 'pn-1')
  t.equal(mismatch!.h[DEAD_LETTER_HEADER.reason], 'schema-mismatch')
  t.equal(mismatch!.h[DEAD_LETTER_HEADER.errorCode], 'BUS_SCHEMA_MISMATCH')
})

t.test('a failing handler is retried, then dead-lettered; a non-retryable coded error at once', async (t) => {
  const env = await busEnv(t, { only: ['webhook.history', 'deadletter'] })
  const producer = await producerFor(t, env)
  const attempts = new Map<number, number>()
  const done: number[] = []
  const consumer = consumerFor(t, env, producer, {
    handlers: {
      'webhook.history': {
        retry: { maxAttempts: 3, initialBackoffMs: 5, maxBackoffMs: 10 },
        handle: (r) => {
          const i = r.value.changeIndex
          attempts.set(i, (attempts.get(i) ?? 0) + 1)
          if (i === 1) throw new Error('flaky forever')
          if (i === 2) throw new CoexistError('SYNC_BAD_CHUNK', { message: 'bad chunk', retryable: false })
          if (i === 3 && r.attempt < 2) throw new Error('flaky once')
          done.push(i)
        }
      }
    }
  })
  for (const i of [1, 2, 3, 4]) await producer.publish('webhook.history', { key: 'pn-1', value: change(i) })
  await consumer.start()
  await until(() => done.length === 2, 10_000, 'records 3 and 4')
  t.same(done, [3, 4])
  t.equal(attempts.get(1), 3, 'retried up to maxAttempts')
  t.equal(attempts.get(2), 1, 'not retried')
  t.equal(attempts.get(3), 2)
  const dead = (await readRecords(env.kafka, env.registry.topic('deadletter').name, 2)).map((r) => decodeHeaders(r.headers))
  t.same(dead.map((h) => [h[DEAD_LETTER_HEADER.reason], h[DEAD_LETTER_HEADER.errorCode], h[DEAD_LETTER_HEADER.attempts]]),
    [['handler', 'UNCODED', '3'], ['handler', 'SYNC_BAD_CHUNK', '1']])
})

t.test('per-key parallelism inside one partition keeps each key in order', async (t) => {
  const env = await busEnv(t, { only: ['outbound.requests', 'deadletter'] })
  const producer = await producerFor(t, env)
  const keys = 20
  const perKey = 25
  const lastSeq = new Map<string, number>()
  let outOfOrder = 0
  let running = 0
  let maxRunning = 0
  let handled = 0
  const consumer = consumerFor(t, env, producer, {
    handlers: {
      'outbound.requests': {
        ordering: 'key',
        maxConcurrency: 8,
        handle: async (r) => {
          running++
          maxRunning = Math.max(maxRunning, running)
          const seq = r.value.attempt
          if ((lastSeq.get(r.key!) ?? -1) !== seq - 1) outOfOrder++
          await new Promise((resolve) => setTimeout(resolve, Math.random() * 4))
          lastSeq.set(r.key!, seq)
          running--
          handled++
        }
      }
    }
  })
  const sends: Promise<void>[] = []
  for (let s = 0; s < perKey; s++) {
    for (let k = 0; k < keys; k++) {
      sends.push(producer.publish('outbound.requests', { key: `pn-${k}`, value: { requestId: `${k}-${s}`, phoneNumberId: `pn-${k}`, attempt: s } }))
    }
  }
  await Promise.all(sends)
  await consumer.start()
  await until(() => handled === keys * perKey, 15_000, 'all records')
  t.equal(outOfOrder, 0, 'every key saw 0, 1, 2, … in order')
  t.ok(maxRunning > 1, `different keys ran concurrently (max ${maxRunning})`)
  t.ok(maxRunning <= 8, 'within maxConcurrency')
})

t.test('ordering none: records of one key run side by side; offsets commit only below finished ones', async (t) => {
  const env = await busEnv(t, { only: ['outbound.results', 'deadletter'] })
  const producer = await producerFor(t, env)
  const total = 200
  let running = 0
  let maxRunning = 0
  const handled = new Set<string>()
  const releases: (() => void)[] = []
  const commits: CommitDiagnostic[] = []
  const onCommit = (m: unknown): void => { commits.push(m as CommitDiagnostic) }
  diagnostics.subscribe(BUS_CHANNELS.commit, onCommit)
  t.teardown(() => diagnostics.unsubscribe(BUS_CHANNELS.commit, onCommit))
  const consumer = consumerFor(t, env, producer, {
    handlers: {
      'outbound.results': {
        ordering: 'none',
        maxConcurrency: 64,
        handle: async (r) => {
          running++
          maxRunning = Math.max(maxRunning, running)
          // The first record waits until everything else is done: nothing may commit past it.
          if (r.value.requestId === 'r-0') await new Promise<void>((resolve) => releases.push(resolve))
          else await new Promise((resolve) => setTimeout(resolve, Math.random() * 3))
          running--
          handled.add(r.value.requestId)
        }
      }
    }
  })
  const sends: Promise<void>[] = []
  for (let i = 0; i < total; i++) sends.push(producer.publish('outbound.results', { key: 'pn-hot', value: { requestId: `r-${i}`, phoneNumberId: 'pn-hot' } }))
  await Promise.all(sends)
  await consumer.start()
  await until(() => handled.size === total - 1, 15_000, 'all but the first record')
  t.ok(maxRunning > 1, `one key ran concurrently (max ${maxRunning})`)
  t.ok(maxRunning <= 64, 'within maxConcurrency')
  await consumer.commit()
  t.notOk(commits.some((c) => Number(c.offset) > 0), 'no commit beyond the unfinished first record')
  for (const release of releases) release()
  await until(() => handled.size === total, 5000, 'the first record')
  await consumer.commit()
  t.ok(commits.some((c) => Number(c.offset) === total), 'then everything commits')
})

t.test('ordering none with handleBatch: ready records in one call; a failing batch runs record by record', async (t) => {
  const env = await busEnv(t, { only: ['outbound.results', 'deadletter'] })
  const producer = await producerFor(t, env)
  const total = 50
  const sizes: number[] = []
  const handled = new Map<string, number>()
  const commits: CommitDiagnostic[] = []
  const onCommit = (m: unknown): void => { commits.push(m as CommitDiagnostic) }
  diagnostics.subscribe(BUS_CHANNELS.commit, onCommit)
  t.teardown(() => diagnostics.unsubscribe(BUS_CHANNELS.commit, onCommit))
  const done = (id: string): void => { handled.set(id, (handled.get(id) ?? 0) + 1) }
  const consumer = consumerFor(t, env, producer, {
    handlers: {
      'outbound.results': {
        ordering: 'none',
        maxConcurrency: 64,
        handle: (r) => {
          if (r.value.requestId === 'r-7') throw new CoexistError('SYNC_BAD_CHUNK', { message: 'bad record', retryable: false })
          done(r.value.requestId)
        },
        handleBatch: async (records) => {
          sizes.push(records.length)
          if (records.some((r) => r.value.requestId === 'r-7')) throw new Error('a bad record in the batch')
          for (const r of records) done(r.value.requestId)
        }
      }
    }
  })
  const sends: Promise<void>[] = []
  for (let i = 0; i < total; i++) sends.push(producer.publish('outbound.results', { key: 'pn-hot', value: { requestId: `r-${i}`, phoneNumberId: 'pn-hot' } }))
  await Promise.all(sends)
  await consumer.start()
  await until(() => handled.size === total - 1, 15_000, 'every record but the bad one')
  t.ok(sizes.some((n) => n > 1), `records handled together (batch sizes ${sizes.join(', ')})`)
  t.ok([...handled.values()].every((n) => n === 1), 'each good record handled once')
  const dead = await readRecords(env.kafka, env.registry.topic('deadletter').name, 1)
  t.equal(decodeHeaders(dead[0]!.headers)[DEAD_LETTER_HEADER.sourceOffset], '7', 'the bad record dead-lettered')
  await until(() => commits.some((c) => Number(c.offset) === total), 5000, 'the commit of everything')
})

t.test('ordering none with handleBatch: the decoded records are not held while the handler waits', async (t) => {
  // A group-commit handler keeps what it needs and waits for its transaction: the consumer must
  // not keep the decoded records alive meanwhile (records in flight are most of its heap).
  setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc') as () => void
  const env = await busEnv(t, { only: ['outbound.results', 'deadletter'] })
  const producer = await producerFor(t, env)
  const total = 20
  const refs: WeakRef<object>[] = []
  const ids = new Set<string>()
  let release!: () => void
  const gate = new Promise<void>((resolve) => { release = resolve })
  const consumer = consumerFor(t, env, producer, {
    handlers: {
      'outbound.results': {
        ordering: 'none',
        maxConcurrency: 64,
        handle: () => {},
        handleBatch: (records) => {
          for (const r of records) { refs.push(new WeakRef(r), new WeakRef(r.value)); ids.add(r.value.requestId) }
          return gate
        }
      }
    }
  })
  for (let i = 0; i < total; i++) await producer.publish('outbound.results', { key: 'pn-hot', value: { requestId: `r-${i}`, phoneNumberId: 'pn-hot' } })
  await consumer.start()
  await until(() => ids.size === total, 15_000, 'every record handed over')
  for (let i = 0; i < 3; i++) { await new Promise((resolve) => setImmediate(resolve)); gc() }
  t.equal(refs.filter((r) => r.deref() !== undefined).length, 0, 'no decoded record (or value) is alive while its batch waits')
  release()
})

t.test('the commit watermark: after a stop, a restart replays only from the first unfinished record', async (t) => {
  const env = await busEnv(t, { only: ['outbound.requests', 'deadletter'] })
  const producer = await producerFor(t, env)
  const group = groupId('watermark')
  const commits: CommitDiagnostic[] = []
  const onCommit = (m: unknown): void => { commits.push(m as CommitDiagnostic) }
  diagnostics.subscribe(BUS_CHANNELS.commit, onCommit)
  t.teardown(() => diagnostics.unsubscribe(BUS_CHANNELS.commit, onCommit))

  // Offsets 0..29; the record at offset 10 (key "stuck") never finishes in the first run.
  for (let i = 0; i < 30; i++) {
    await producer.publish('outbound.requests', { key: i === 10 ? 'stuck' : `pn-${i % 3}`, value: { requestId: `r-${i}`, attempt: i } })
  }
  const first = new Set<number>()
  let aborted = false
  const c1 = createBusConsumer({
    kafka: env.kafka,
    registry: env.registry,
    producer,
    logger,
    groupId: group,
    ...FAST,
    stopTimeoutMs: 200,
    handlers: {
      'outbound.requests': {
        ordering: 'key',
        handle: async (r) => {
          if (r.key === 'stuck') {
            await new Promise<void>((resolve) => r.signal.addEventListener('abort', () => { aborted = true; resolve() }, { once: true }))
            throw new Error('aborted')
          }
          first.add(Number(r.offset))
        }
      }
    }
  })
  await c1.start()
  await until(() => first.size === 29, 10_000, 'the 29 other records')
  await c1.stop()
  t.ok(aborted, 'the stuck handler was signalled when stop ran out of time')
  t.equal(commits.at(-1)?.offset, '10', 'committed up to the unfinished record, not past it')

  const second: number[] = []
  const c2 = createBusConsumer({
    kafka: env.kafka,
    registry: env.registry,
    producer,
    logger,
    groupId: group,
    ...FAST,
    handlers: { 'outbound.requests': { ordering: 'key', handle: (r) => { second.push(Number(r.offset)) } } }
  })
  t.teardown(() => c2.stop())
  await c2.start()
  await until(() => second.length === 20, 10_000, 'replay from offset 10')
  t.equal(Math.min(...second), 10, 'nothing finished below the watermark is redelivered')
  t.ok(second.includes(10), 'the unfinished record is not skipped')
  await c2.commit()
  await c2.stop()

  // A third run with everything finished and committed sees only new records.
  await producer.publish('outbound.requests', { key: 'pn-0', value: { requestId: 'r-30' } })
  const third: number[] = []
  const c3 = createBusConsumer({
    kafka: env.kafka,
    registry: env.registry,
    producer,
    logger,
    groupId: group,
    ...FAST,
    handlers: { 'outbound.requests': { handle: (r) => { third.push(Number(r.offset)) } } }
  })
  t.teardown(() => c3.stop())
  await c3.start()
  await until(() => third.length === 1, 10_000, 'the new record')
  await new Promise((resolve) => setTimeout(resolve, 200))
  t.same(third, [30])
})

t.test('a handler that gives its record back while the consumer stops leaves it unfinished: no retry, no dead letter', async (t) => {
  const env = await busEnv(t, { only: ['outbound.requests', 'deadletter'] })
  const producer = await producerFor(t, env)
  const group = groupId('give-back')
  const outcomes: string[] = []
  const onHandle = (m: unknown): void => { outcomes.push((m as { outcome: string }).outcome) }
  diagnostics.subscribe(BUS_CHANNELS.handle, onHandle)
  t.teardown(() => diagnostics.unsubscribe(BUS_CHANNELS.handle, onHandle))
  for (let i = 0; i < 5; i++) await producer.publish('outbound.requests', { key: 'pn-1', value: { requestId: `r-${i}` } })
  // A handler that holds every record (e.g. queued for a rate limit) until told to give them back.
  const held: Array<(err: Error) => void> = []
  const c1 = createBusConsumer({
    kafka: env.kafka,
    registry: env.registry,
    producer,
    logger,
    groupId: group,
    ...FAST,
    stopTimeoutMs: 10_000,
    handlers: { 'outbound.requests': { ordering: 'none', handle: async () => { await new Promise<void>((_resolve, reject) => { held.push(reject) }) } } }
  })
  await c1.start()
  await until(() => held.length === 5, 10_000, 'five records held')
  const t0 = performance.now()
  const stopping = c1.stop()
  for (const reject of held) reject(new CoexistError('TEST_GIVEN_BACK', { message: 'given back', retryable: true }))
  await stopping
  t.ok(performance.now() - t0 < 5000, 'stop did not wait for its timeout')
  t.same(outcomes.filter((o) => o !== 'ok'), [], 'no retry and no dead letter reported')
  const offsets = await env.admin.fetchTopicOffsets(env.registry.topic('deadletter').name)
  t.equal(offsets.reduce((n, p) => n + Number(p.high), 0), 0, 'nothing dead-lettered')

  const again: string[] = []
  const c2 = createBusConsumer({
    kafka: env.kafka,
    registry: env.registry,
    producer,
    logger,
    groupId: group,
    ...FAST,
    handlers: { 'outbound.requests': { handle: (r) => { again.push(r.value.requestId) } } }
  })
  t.teardown(() => c2.stop())
  await c2.start()
  await until(() => again.length === 5, 10_000, 'all five redelivered')
  t.same(again, ['r-0', 'r-1', 'r-2', 'r-3', 'r-4'])
})

t.test('a record tells when its partition was assigned to this member (not when the record came)', async (t) => {
  const env = await busEnv(t, { only: ['outbound.requests', 'deadletter'] })
  const producer = await producerFor(t, env)
  const seen: Array<{ assignedAt: number, handledAt: number }> = []
  const before = Date.now()
  const consumer = consumerFor(t, env, producer, { handlers: { 'outbound.requests': { handle: (r) => { seen.push({ assignedAt: r.assignedAt, handledAt: Date.now() }) } } } })
  await consumer.start()
  const joined = Date.now()
  await new Promise((resolve) => setTimeout(resolve, 400))
  await producer.publish('outbound.requests', { key: 'pn-1', value: { requestId: 'late' } })
  await until(() => seen.length === 1, 10_000, 'the record')
  const r = seen[0]!
  t.ok(r.assignedAt >= before && r.assignedAt <= joined, 'the join time')
  t.ok(r.handledAt - r.assignedAt >= 350, 'not the time the record arrived')
})

t.test("a record's logger (made on first use) is bound to topic, partition and offset", async (t) => {
  const env = await busEnv(t, { only: ['outbound.requests', 'deadletter'] })
  const producer = await producerFor(t, env)
  const lines: string[] = []
  const { createLogger } = await import('@coexist/logger')
  const captured = createLogger({ level: 'info' }, { write: (line: string) => { lines.push(line) } })
  const seen: object[] = []
  const consumer = createBusConsumer({
    kafka: env.kafka,
    registry: env.registry,
    producer,
    logger: captured,
    groupId: groupId('log'),
    ...FAST,
    handlers: { 'outbound.requests': { handle: (r) => { seen.push(r); if (r.value.requestId === 'talk') r.log.info('handled') } } }
  })
  t.teardown(() => consumer.stop())
  await producer.publish('outbound.requests', { key: 'pn-1', value: { requestId: 'quiet' } })
  await producer.publish('outbound.requests', { key: 'pn-1', value: { requestId: 'talk' } })
  await consumer.start()
  await until(() => lines.some((l) => l.includes('"handled"')), 10_000, 'the log line')
  const line = JSON.parse(lines.find((l) => l.includes('"handled"')) as string)
  t.match(line, { topic: env.registry.topic('outbound.requests').name, partition: 0, offset: '1' })
  // Records are instances of one class with the accessor on its prototype: an object literal
  // with a `log` accessor per record is built by V8's slow path (about ten times the cost).
  t.equal(seen.length, 2)
  t.ok(seen.every((r) => Object.getOwnPropertyDescriptor(r, 'log') === undefined && Object.getPrototypeOf(r) === Object.getPrototypeOf(seen[0])), 'log is not an own accessor of each record')
  t.not(Object.getPrototypeOf(seen[0]), Object.prototype)
})

t.test('a 3 MB record reaches its handler with the default fetch sizes', async (t) => {
  const env = await busEnv(t, { only: ['webhook.raw', 'deadletter'] })
  const producer = await producerFor(t, env)
  const body = Buffer.alloc(3 * 1024 * 1024, 'x')
  const got: Buffer[] = []
  const consumer = consumerFor(t, env, producer, { handlers: { 'webhook.raw': { handle: (r) => { got.push(Buffer.from(r.value.body)) } } } })
  await producer.publish('webhook.raw', { key: 'waba', value: { body, requestId: 'big' } })
  await producer.publish('webhook.raw', { key: 'waba', value: { body: Buffer.from('{}'), requestId: 'small' } })
  await consumer.start()
  await until(() => got.length === 2, 10_000, 'both records')
  t.ok(got[0]!.equals(body))
  t.equal(got[1]!.toString(), '{}')
})

t.test('back-pressure pauses a busy partition and resumes it: everything is handled', async (t) => {
  const env = await busEnv(t, { only: ['billing.usage', 'deadletter'] })
  const producer = await producerFor(t, env)
  let maxInFlight = 0
  let inFlight = 0
  const seen = new Set<string>()
  const consumer = consumerFor(t, env, producer, {
    maxPendingPerPartition: 4,
    handlers: {
      'billing.usage': {
        ordering: 'key',
        maxConcurrency: 4,
        handle: async (r) => {
          inFlight++
          maxInFlight = Math.max(maxInFlight, inFlight)
          await new Promise((resolve) => setTimeout(resolve, 1))
          seen.add(r.value.usageId)
          inFlight--
        }
      }
    }
  })
  await Promise.all(Array.from({ length: 200 }, (_, i) => producer.publish('billing.usage', { key: `t-${i % 10}`, value: { usageId: `u-${i}` } })))
  await consumer.start()
  await until(() => seen.size === 200, 15_000, 'all 200 records')
  t.ok(maxInFlight <= 4)
})

t.test('a handler table entry may name its schema; another schema is refused', async (t) => {
  const env = await busEnv(t, { only: ['events'] })
  const producer = await producerFor(t, env)
  t.throws(() => createBusConsumer({
    kafka: env.kafka,
    registry: env.registry,
    producer,
    logger,
    groupId: 'x',
    handlers: { events: { schema: WebhookChangeSchema as never, handle: () => {} } }
  }), { code: 'BUS_INVALID_OPTIONS' })
  t.doesNotThrow(() => createBusConsumer({
    kafka: env.kafka,
    registry: env.registry,
    producer,
    logger,
    groupId: 'x',
    handlers: { events: { schema: env.registry.topic('events').schema, handle: () => {} } }
  }))
})

t.test('pause() stops fetching until resume()', async (t) => {
  const env = await busEnv(t, { only: ['events', 'deadletter'] })
  const producer = await producerFor(t, env)
  const seen: string[] = []
  const consumer = consumerFor(t, env, producer, { handlers: { events: { handle: (r) => { seen.push(r.value.eventId) } } } })
  await consumer.start()
  consumer.pause(['events'])
  await producer.publish('events', { key: 'pn', value: { eventId: 'e1' } })
  await new Promise((resolve) => setTimeout(resolve, 400))
  t.same(seen, [], 'nothing handled while paused')
  consumer.resume()
  await until(() => seen.length === 1, 5000, 'the record after resume')
  t.same(seen, ['e1'])
  t.same(consumer.assignments(), [{ topic: env.registry.topic('events').name, partitions: [0] }])
})

t.test('two members of one group share partitions across a rebalance and lose nothing', async (t) => {
  const env = await busEnv(t, { partitions: 4, only: ['outbound.results', 'deadletter'] })
  const producer = await producerFor(t, env)
  const group = groupId('rebalance')
  const seen = new Set<string>()
  const handle = async (r: { value: { requestId: string } }): Promise<void> => {
    await new Promise((resolve) => setTimeout(resolve, 1))
    seen.add(r.value.requestId)
  }
  const a = createBusConsumer({ kafka: env.kafka, registry: env.registry, producer, logger, groupId: group, ...FAST, handlers: { 'outbound.results': { ordering: 'key', handle } } })
  t.teardown(() => a.stop())
  await a.start()
  const n = 400
  const publishAll = async (from: number, to: number): Promise<void> => {
    await Promise.all(Array.from({ length: to - from }, (_, i) => producer.publish('outbound.results', { key: `pn-${(from + i) % 13}`, value: { requestId: `r-${from + i}` } })))
  }
  await publishAll(0, n / 2)
  const b = createBusConsumer({ kafka: env.kafka, registry: env.registry, producer, logger, groupId: group, ...FAST, handlers: { 'outbound.results': { ordering: 'key', handle } } })
  t.teardown(() => b.stop())
  await b.start()
  await publishAll(n / 2, n)
  await until(() => seen.size === n, 20_000, 'every record')
  await until(() => a.assignments().length + b.assignments().length > 0 &&
    a.assignments().concat(b.assignments()).reduce((s, x) => s + x.partitions.length, 0) === 4, 10_000, 'a full assignment')
  t.ok(b.assignments().length > 0, 'the second member got partitions')
  await a.commit(); await b.commit()
  const committed = await env.admin.fetchOffsets({ groupId: group, topics: [env.registry.topic('outbound.results').name] })
  const total = committed[0]!.partitions.reduce((s, p) => s + Number(p.offset), 0)
  t.equal(total, n, 'committed offsets cover every record')
})
