import t from 'tap'
import { create } from '@bufbuild/protobuf'
import { RawWebhookSchema } from '@coexist/contracts'
import { testKafkaBrokers, testTopicPrefix } from '@coexist/testkit'
import { connectBus } from '../src/index.ts'
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
