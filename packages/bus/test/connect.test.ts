import diagnostics from 'node:diagnostics_channel'
import t from 'tap'
import { create } from '@bufbuild/protobuf'
import { RawWebhookSchema } from '@coexist/contracts'
import { testKafkaBrokers, testTopicPrefix } from '@coexist/testkit'
import { BUS_CHANNELS, connectBus, type BatchDiagnostic } from '../src/index.ts'
import { logger, readRecords } from './helpers.ts'

t.test('connectBus creates the registry topics and a producer that publishes', async (t) => {
  const bus = await connectBus({ brokers: testKafkaBrokers(), topicPrefix: testTopicPrefix(), clientId: 'bus-connect-test', logger })
  t.teardown(() => bus.close())
  const names = new Set(await bus.admin.listTopics())
  for (const spec of bus.registry.all()) t.ok(names.has(spec.name), `${spec.name} exists`)
  t.equal(await bus.ready(), true)
  const value = create(RawWebhookSchema, { body: Buffer.from('{"object":"whatsapp_business_account"}'), appId: '1' })
  await bus.producer.publish('webhook.raw', { key: 'waba-1', value })
  const [record] = await readRecords(bus.kafka, bus.registry.topic('webhook.raw').name, 1)
  t.equal(record?.key?.toString(), 'waba-1')
})

t.test('connectBus applies a service\'s producer settings (billing publishes uncompressed)', async (t) => {
  const batches: BatchDiagnostic[] = []
  const onBatch = (d: unknown): void => { batches.push(d as BatchDiagnostic) }
  diagnostics.subscribe(BUS_CHANNELS.batch, onBatch)
  t.teardown(() => diagnostics.unsubscribe(BUS_CHANNELS.batch, onBatch))
  // 64 KiB in one record: over the bus default's 16 KiB, so only the setting keeps it uncompressed.
  const value = create(RawWebhookSchema, { body: Buffer.alloc(64 * 1024, 'a'), appId: '1' })
  for (const [compressMinBytes, compressed] of [[undefined, true], [Number.POSITIVE_INFINITY, false]] as const) {
    const bus = await connectBus({ brokers: testKafkaBrokers(), topicPrefix: testTopicPrefix(), clientId: 'bus-connect-test', logger, ...(compressMinBytes === undefined ? {} : { producer: { compressMinBytes } }) })
    batches.length = 0
    await bus.producer.publish('webhook.raw', { key: 'waba-1', value })
    await bus.close()
    t.same(batches.map((b) => b.compressed), [compressed], `compressMinBytes ${String(compressMinBytes ?? 'default')}`)
  }
})
