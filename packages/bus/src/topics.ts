/**
 * The topic registry: every Kafka topic of Coexist with its contract (protobuf schema), what
 * its key means, partitions, replication and topic config. Names carry a configurable prefix
 * (`KAFKA_TOPIC_PREFIX`, default `wa.`), so `webhook.messages` is `wa.webhook.messages.v1`.
 *
 * @example
 * const topics = createTopicRegistry({ prefix: config.kafka.topicPrefix, replicationFactor: 3 })
 * topics.topic('outbound.requests').name   // 'wa.outbound.requests.v1'
 * topics.forWebhookField('messages').key   // 'webhook.messages'
 * topics.forWebhookField('security').key   // 'webhook.unrouted'
 */
import type { DescMessage, MessageShape } from '@bufbuild/protobuf'
import {
  DomainEventSchema, OutboundDeadLetterSchema, OutboundRequestSchema, OutboundResultSchema, OutboundStatus,
  RawWebhookSchema, TenantBalanceEventSchema, UnroutedWebhookSchema, UsageRecordSchema, WebhookChangeSchema
} from '@coexist/contracts'
import { BusErrors } from './errors.ts'

/** Webhook fields that have their own topic (`wa.webhook.<field>.v1`); others go to unrouted. */
export const WEBHOOK_FIELDS = [
  'messages',
  'smb_message_echoes',
  'smb_app_state_sync',
  'history',
  'account_update',
  'message_template_status_update',
  'phone_number_quality_update',
  'business_capability_update'
] as const
export type WebhookField = typeof WEBHOOK_FIELDS[number]
export type WebhookTopicKey = `webhook.${WebhookField}`

/** Topic key → contract. `null`: the topic carries bytes of any contract (dead letters). */
export interface TopicContracts {
  'webhook.raw': typeof RawWebhookSchema
  'webhook.messages': typeof WebhookChangeSchema
  'webhook.smb_message_echoes': typeof WebhookChangeSchema
  'webhook.smb_app_state_sync': typeof WebhookChangeSchema
  'webhook.history': typeof WebhookChangeSchema
  'webhook.account_update': typeof WebhookChangeSchema
  'webhook.message_template_status_update': typeof WebhookChangeSchema
  'webhook.phone_number_quality_update': typeof WebhookChangeSchema
  'webhook.business_capability_update': typeof WebhookChangeSchema
  'webhook.unrouted': typeof UnroutedWebhookSchema
  'outbound.requests': typeof OutboundRequestSchema
  'outbound.results': typeof OutboundResultSchema
  'outbound.dlq': typeof OutboundDeadLetterSchema
  events: typeof DomainEventSchema
  'billing.usage': typeof UsageRecordSchema
  'billing.balance': typeof TenantBalanceEventSchema
  deadletter: null
}
export type TopicKey = keyof TopicContracts
/** Topics with a protobuf contract (publish() encodes, consumers decode). */
export type ContractTopicKey = { [K in TopicKey]: TopicContracts[K] extends DescMessage ? K : never }[TopicKey]
/** The value a handler receives and publish() takes: the decoded message, or bytes. */
export type ValueOf<K extends TopicKey> = TopicContracts[K] extends DescMessage ? MessageShape<TopicContracts[K]> : Uint8Array

/** One topic: name, contract, key meaning and how it is created. */
export interface TopicSpec<K extends TopicKey = TopicKey> {
  readonly key: K
  /** Full topic name, prefix included (`wa.webhook.raw.v1`). */
  readonly name: string
  readonly schema: TopicContracts[K]
  /** What the record key holds (documentation; ops read it). */
  readonly keyMeaning: string
  readonly partitions: number
  readonly replicationFactor: number
  /** Largest record batch the topic accepts (`max.message.bytes`). */
  readonly maxMessageBytes: number
  /** Topic-level config used at creation (`max.message.bytes`, `compression.type`, ...). */
  readonly config: Readonly<Record<string, string>>
  /** The `event-type` header for a value published here. */
  readonly eventType: (value: ValueOf<K>) => string
}

/** Records up to 8 MiB: Meta's webhook bodies reach 3 MB, a history chunk is the largest. */
export const LARGE_MESSAGE_BYTES = 8 * 1024 * 1024
/** Records up to 2 MiB on topics written by Coexist itself (send bodies, events, usage). */
export const DEFAULT_MESSAGE_BYTES = 2 * 1024 * 1024

interface TopicDef<K extends TopicKey> {
  suffix: string
  schema: TopicContracts[K]
  keyMeaning: string
  partitions: number
  large: boolean
  /** Broker-side compression: gzip for the big JSON archives, else what the producer sent. */
  gzip: boolean
  retentionMs?: number
  eventType: (value: ValueOf<K>) => string
}

const BY_PHONE = 'phone_number_id (the WABA id when the change has none)'
const DAY_MS = 24 * 60 * 60 * 1000

function webhookDef<F extends WebhookField> (field: F): TopicDef<`webhook.${F}`> {
  const def: TopicDef<WebhookTopicKey> = {
    suffix: `webhook.${field}.v1`,
    schema: WebhookChangeSchema,
    keyMeaning: BY_PHONE,
    partitions: 12,
    large: true,
    // Only history carries chunks near Meta's 3 MB; the other fields are small JSON.
    gzip: field === 'history',
    eventType: () => `webhook.${field}`
  }
  return def as unknown as TopicDef<`webhook.${F}`>
}

const snake = (s: string): string => s.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase())

/** The topic table. Partition counts are defaults; `createTopicRegistry` can override them. */
const TOPIC_DEFS: { [K in TopicKey]: TopicDef<K> } = {
  'webhook.raw': {
    suffix: 'webhook.raw.v1',
    schema: RawWebhookSchema,
    keyMeaning: 'WABA id (entry[0].id)',
    partitions: 12,
    large: true,
    gzip: true,
    // The replay archive: kept longer than the working topics.
    retentionMs: 30 * DAY_MS,
    eventType: () => 'webhook.raw'
  },
  'webhook.messages': webhookDef('messages'),
  'webhook.smb_message_echoes': webhookDef('smb_message_echoes'),
  'webhook.smb_app_state_sync': webhookDef('smb_app_state_sync'),
  'webhook.history': webhookDef('history'),
  'webhook.account_update': webhookDef('account_update'),
  'webhook.message_template_status_update': webhookDef('message_template_status_update'),
  'webhook.phone_number_quality_update': webhookDef('phone_number_quality_update'),
  'webhook.business_capability_update': webhookDef('business_capability_update'),
  'webhook.unrouted': {
    suffix: 'webhook.unrouted.v1',
    schema: UnroutedWebhookSchema,
    keyMeaning: 'WABA id when known, else the ingress request id',
    partitions: 3,
    large: true,
    gzip: true,
    eventType: () => 'webhook.unrouted'
  },
  'outbound.requests': {
    suffix: 'outbound.requests.v1',
    schema: OutboundRequestSchema,
    keyMeaning: 'phone_number_id (sending number)',
    partitions: 12,
    large: false,
    gzip: false,
    eventType: () => 'outbound.request_accepted'
  },
  'outbound.results': {
    suffix: 'outbound.results.v1',
    schema: OutboundResultSchema,
    keyMeaning: 'phone_number_id (sending number)',
    partitions: 12,
    large: false,
    gzip: false,
    eventType: (v) => v.status === OutboundStatus.SENT
      ? 'outbound.sent'
      : v.status === OutboundStatus.FAILED ? 'outbound.failed' : 'outbound.unknown'
  },
  'outbound.dlq': {
    suffix: 'outbound.dlq.v1',
    schema: OutboundDeadLetterSchema,
    keyMeaning: 'phone_number_id (sending number)',
    partitions: 3,
    large: false,
    gzip: false,
    eventType: () => 'outbound.dead_lettered'
  },
  events: {
    suffix: 'events.v1',
    schema: DomainEventSchema,
    keyMeaning: 'phone_number_id',
    partitions: 12,
    large: false,
    gzip: false,
    // The oneof case in snake_case (`message_received`, `status_changed`, ...), so consumers
    // can filter on the header without decoding.
    eventType: (v) => v.event.case === undefined ? 'unknown' : snake(v.event.case)
  },
  'billing.usage': {
    suffix: 'billing.usage.v1',
    schema: UsageRecordSchema,
    keyMeaning: 'tenant id',
    partitions: 6,
    large: false,
    gzip: false,
    eventType: () => 'billing.usage_recorded'
  },
  'billing.balance': {
    suffix: 'billing.balance.v1',
    schema: TenantBalanceEventSchema,
    keyMeaning: 'tenant id',
    partitions: 3,
    large: false,
    gzip: false,
    eventType: () => 'billing.balance_changed'
  },
  deadletter: {
    suffix: 'deadletter.v1',
    schema: null,
    keyMeaning: 'the original record key; value and headers as received, plus dead-letter-* headers',
    partitions: 3,
    large: true,
    gzip: true,
    eventType: () => 'dead_letter'
  }
}

/** Every topic key, in table order. */
export const TOPIC_KEYS = Object.keys(TOPIC_DEFS) as TopicKey[]

export interface TopicRegistryOptions {
  /** Prefix of every topic name; must end with a dot. Default `wa.`. */
  prefix?: string
  /** Partitions: one number for every topic (tests), or per-topic overrides of the defaults. */
  partitions?: number | Partial<Record<TopicKey, number>>
  /** Replication factor of created topics. Default 1 (local single broker); use 3 in production. */
  replicationFactor?: number
  /** Extra topic config per topic (e.g. `{ 'webhook.raw': { 'retention.ms': '-1' } }`). */
  config?: Partial<Record<TopicKey, Record<string, string>>>
  /** Largest record on the webhook topics; default 8 MiB. */
  largeMessageBytes?: number
}

/** The topics of one deployment (one prefix). */
export interface TopicRegistry {
  readonly prefix: string
  /** The spec of a topic key. */
  topic: <K extends TopicKey>(key: K) => TopicSpec<K>
  /** Every topic, in table order. */
  all: () => readonly TopicSpec[]
  /** The spec whose full name is `name`, if any. */
  byName: (name: string) => TopicSpec | undefined
  /** The topic for a webhook change field: its own topic, or `webhook.unrouted` for unknown fields. */
  forWebhookField: (field: string) => TopicSpec<WebhookTopicKey | 'webhook.unrouted'>
}

/**
 * The topic key for a webhook field: `webhook.<field>` for the fields with a topic,
 * `webhook.unrouted` for any other (the change then travels as an UnroutedWebhook).
 */
export function webhookTopicKey (field: string): WebhookTopicKey | 'webhook.unrouted' {
  return (WEBHOOK_FIELDS as readonly string[]).includes(field) ? `webhook.${field as WebhookField}` : 'webhook.unrouted'
}

const PREFIX = /^[A-Za-z0-9._-]*\.$/

/** Builds the registry for a prefix; validates options (throws BUS_INVALID_OPTIONS). */
export function createTopicRegistry (opts: TopicRegistryOptions = {}): TopicRegistry {
  const prefix = opts.prefix ?? 'wa.'
  const rf = opts.replicationFactor ?? 1
  const large = opts.largeMessageBytes ?? LARGE_MESSAGE_BYTES
  if (!PREFIX.test(prefix)) throw BusErrors.BUS_INVALID_OPTIONS.create({ message: `topic prefix "${prefix}" must be [A-Za-z0-9._-] and end with a dot` })
  if (!Number.isInteger(rf) || rf < 1) throw BusErrors.BUS_INVALID_OPTIONS.create({ message: `replication factor ${rf} must be a positive integer` })

  const specs = new Map<TopicKey, TopicSpec>()
  for (const key of TOPIC_KEYS) {
    const def = TOPIC_DEFS[key] as TopicDef<TopicKey>
    const partitions = typeof opts.partitions === 'number' ? opts.partitions : opts.partitions?.[key] ?? def.partitions
    if (!Number.isInteger(partitions) || partitions < 1) {
      throw BusErrors.BUS_INVALID_OPTIONS.create({ message: `partitions for ${key} must be a positive integer, got ${partitions}` })
    }
    // A dead letter is a record of any topic plus a few headers: give it room over the largest.
    const maxMessageBytes = key === 'deadletter' ? large + 1024 * 1024 : def.large ? large : DEFAULT_MESSAGE_BYTES
    const config: Record<string, string> = {
      'max.message.bytes': String(maxMessageBytes),
      'compression.type': def.gzip ? 'gzip' : 'producer',
      ...(def.retentionMs !== undefined ? { 'retention.ms': String(def.retentionMs) } : {}),
      // acks=all is only as strong as the in-sync replicas behind it.
      ...(rf >= 3 ? { 'min.insync.replicas': '2' } : {}),
      ...opts.config?.[key]
    }
    specs.set(key, Object.freeze({
      key,
      name: prefix + def.suffix,
      schema: def.schema,
      keyMeaning: def.keyMeaning,
      partitions,
      replicationFactor: rf,
      maxMessageBytes: Number(config['max.message.bytes']),
      config: Object.freeze(config),
      eventType: def.eventType
    }))
  }
  const byName = new Map([...specs.values()].map((s) => [s.name, s]))
  const all = Object.freeze([...specs.values()])

  const topic = <K extends TopicKey>(key: K): TopicSpec<K> => {
    const s = specs.get(key)
    if (s === undefined) throw BusErrors.BUS_UNKNOWN_TOPIC.create({ detail: { topic: key } })
    return s as unknown as TopicSpec<K>
  }
  return Object.freeze({
    prefix,
    topic,
    all: () => all,
    byName: (name: string) => byName.get(name),
    forWebhookField: (field: string) => topic(webhookTopicKey(field))
  })
}
