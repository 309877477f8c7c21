/**
 * Coexist's Kafka bus: the topic registry (names, contracts, keys, partitions, config), topic
 * creation, an idempotent group-commit producer, a typed consumer with dead letters and
 * watermark commits, readiness, coded errors and diagnostics channels.
 *
 * @example
 * const kafka = createKafka({ brokers: config.kafka.brokers, clientId: 'sync', logger })
 * const registry = createTopicRegistry({ prefix: config.kafka.topicPrefix })
 * const admin = kafka.admin(); await admin.connect()
 * await ensureTopics(admin, registry)
 * const producer = createBusProducer({ kafka, registry, logger }); await producer.connect()
 * const consumer = createBusConsumer({ kafka, registry, producer, logger, groupId: 'sync', handlers: {...} })
 * await consumer.start()
 */
export { BusErrors } from './errors.ts'
export {
  DEFAULT_MESSAGE_BYTES, LARGE_MESSAGE_BYTES, TOPIC_KEYS, WEBHOOK_FIELDS, createTopicRegistry, webhookTopicKey,
  type ContractTopicKey, type TopicContracts, type TopicKey, type TopicRegistry, type TopicRegistryOptions,
  type TopicSpec, type ValueOf, type WebhookField, type WebhookTopicKey
} from './topics.ts'
export { DEAD_LETTER_HEADER, HEADER, PROTOBUF_CONTENT_TYPE, decodeHeaders, newTraceId } from './headers.ts'
export {
  BUS_CHANNELS,
  type BatchDiagnostic, type CommitDiagnostic, type DeadLetterDiagnostic, type HandleDiagnostic,
  type PublishTimeoutDiagnostic, type RebalanceDiagnostic
} from './diagnostics.ts'
export {
  createKafka, describeTopicConfig, ensureTopics, kafkaReady,
  type CreateKafkaOptions, type EnsureTopicsOptions, type EnsureTopicsResult, type KafkaReadiness
} from './kafka.ts'
export {
  createBusProducer,
  type BusProducer, type BusProducerOptions, type PublishOptions, type PublishRecord, type RawPublishRecord
} from './producer.ts'
export {
  createBusConsumer,
  type BusConsumer, type BusConsumerOptions, type BusRecord, type PartitionAssignment, type RetryPolicy,
  type TopicHandler, type TopicHandlers
} from './consumer.ts'
export { connectBus, type ConnectBusOptions, type ConnectedBus } from './connect.ts'
export { OffsetTracker } from './offset-tracker.ts'
export type { Admin, Kafka } from 'kafkajs'
