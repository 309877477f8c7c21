import type { Admin, Kafka } from 'kafkajs'
import type { Logger } from '@coexist/logger'
import { createKafka, ensureTopics, kafkaReady } from './kafka.ts'
import { createBusProducer, type BusProducer, type BusProducerOptions } from './producer.ts'
import { createTopicRegistry, type TopicRegistry } from './topics.ts'

export interface ConnectBusOptions {
  brokers: readonly string[]
  /** Topic name prefix (`KAFKA_TOPIC_PREFIX`). */
  topicPrefix: string
  clientId: string
  logger: Logger
  /** The producer's settings where a service differs from the bus defaults (e.g. `compressMinBytes`). */
  producer?: Pick<BusProducerOptions, 'lingerMs' | 'maxBatchRecords' | 'maxBatchBytes' | 'publishTimeoutMs' | 'compressMinBytes'>
}

export interface ConnectedBus {
  kafka: Kafka
  registry: TopicRegistry
  admin: Admin
  producer: BusProducer
  /** Readiness probe: the cluster answers (never throws). */
  ready: () => Promise<boolean>
  /** Disconnects the producer (flushing it) and the admin client. */
  close: () => Promise<void>
}

/**
 * What every service does with Kafka at start: a client, the topic registry, the registry's
 * topics created and led, and a connected group-commit producer.
 *
 * @example
 * const bus = await connectBus({ brokers: config.kafka.brokers, topicPrefix: config.kafka.topicPrefix, clientId: 'coexist-sync', logger })
 * const app = await buildApp({ …, readiness: { kafka: bus.ready } })
 */
export async function connectBus (opts: ConnectBusOptions): Promise<ConnectedBus> {
  const kafka = createKafka({ brokers: [...opts.brokers], clientId: opts.clientId, logger: opts.logger })
  const registry = createTopicRegistry({ prefix: opts.topicPrefix })
  const admin = kafka.admin()
  await admin.connect()
  await ensureTopics(admin, registry)
  const producer = createBusProducer({ kafka, registry, logger: opts.logger, ...opts.producer })
  await producer.connect()
  return {
    kafka,
    registry,
    admin,
    producer,
    ready: async () => (await kafkaReady(admin)).ready,
    close: async () => {
      await producer.disconnect()
      await admin.disconnect()
    }
  }
}
