/**
 * The kafkajs client, logging through pino, and the admin helpers every service runs at start:
 * `ensureTopics` (create what is missing, wait for leaders) and `kafkaReady` (readiness probe).
 */
import kafkajs, { type Admin, type ITopicConfig, type Kafka, type LogEntry, type RetryOptions } from 'kafkajs'
import type { Logger } from '@coexist/logger'
import { BusErrors } from './errors.ts'
import type { TopicRegistry, TopicSpec } from './topics.ts'

export interface CreateKafkaOptions {
  brokers: string[]
  clientId: string
  logger: Logger
  /** TCP connect timeout per broker, ms. Default 3000. */
  connectionTimeoutMs?: number
  /** Request timeout, ms. Default 30000. */
  requestTimeoutMs?: number
  /** Client-level retry (connections, metadata, admin). Default: 5 retries, 100 ms → 2 s. */
  retry?: RetryOptions
}

// kafkajs is CommonJS and Node's named-export detection misses part of it: use the default export.
const { ConfigResourceTypes, logLevel } = kafkajs
type LogLevel = typeof logLevel[keyof typeof logLevel]

const PINO_LEVEL = { [logLevel.ERROR]: 'error', [logLevel.WARN]: 'warn', [logLevel.INFO]: 'info', [logLevel.DEBUG]: 'debug', [logLevel.NOTHING]: 'silent' } as const

/** kafkajs log entries through a pino child logger (`{ kafkajs: { namespace, ... } }`). */
function pinoLogCreator (logger: Logger) {
  return () => ({ namespace, level, log }: LogEntry) => {
    const { message, timestamp: _ts, logger: _l, ...extra } = log as LogEntry['log'] & { logger?: unknown }
    // The bus limits the idempotent producer's retries on purpose and replaces the producer
    // after a failed batch (see producer.ts), so kafkajs's generic warning is noise here.
    if (namespace === 'Producer' && message.startsWith('Limiting retries for the idempotent producer')) return
    let lvl: 'error' | 'warn' | 'info' | 'debug' | 'silent' = PINO_LEVEL[level as keyof typeof PINO_LEVEL] ?? 'info'
    // kafkajs logs every error *response* at error level, including the routine ones of a
    // rebalance or a coordinator still loading; the failures that matter surface as thrown
    // errors (and CRASH events). Keep those lines for debugging only.
    if (namespace === 'Connection' && lvl === 'error') lvl = message.startsWith('Response ') ? 'debug' : 'warn'
    // A consumer's crash is logged once, by the bus consumer's CRASH handler, at the level its
    // outcome deserves (a restart after a coordinator still loading is routine on a fresh broker).
    if (namespace === 'Consumer' && message.startsWith('Crash: ')) lvl = 'debug'
    // kafkajs's next line after a retriable crash; the crash itself is already logged (above).
    if (namespace === 'Consumer' && lvl === 'error' && message.startsWith('Restarting the consumer in ')) lvl = 'info'
    // Each retry of a produce request (a leader moving, a topic just created) is one of kafkajs's
    // error lines; the bus producer logs the batch that fails for good (warn, and the caller's error).
    if (namespace === 'Producer' && lvl === 'error' && message.startsWith('Failed to send messages')) lvl = 'warn'
    if (lvl === 'silent' || !logger.isLevelEnabled(lvl)) return
    logger[lvl]({ kafkajs: { namespace, ...extra } }, message)
  }
}

/** Pino level → the most verbose kafkajs level worth producing. */
function kafkajsLevel (logger: Logger): LogLevel {
  if (logger.isLevelEnabled('debug')) return logLevel.DEBUG
  if (logger.isLevelEnabled('info')) return logLevel.INFO
  if (logger.isLevelEnabled('warn')) return logLevel.WARN
  if (logger.isLevelEnabled('error')) return logLevel.ERROR
  return logLevel.NOTHING
}

/**
 * A kafkajs client whose logs go to `logger`.
 *
 * @example
 * const kafka = createKafka({ brokers: config.kafka.brokers, clientId: 'ingress', logger })
 */
export function createKafka (opts: CreateKafkaOptions): Kafka {
  if (opts.brokers.length === 0) throw BusErrors.BUS_INVALID_OPTIONS.create({ message: 'at least one Kafka broker is needed' })
  const logger = opts.logger.child({ component: 'kafkajs' })
  return new kafkajs.Kafka({
    clientId: opts.clientId,
    brokers: opts.brokers,
    connectionTimeout: opts.connectionTimeoutMs ?? 3000,
    requestTimeout: opts.requestTimeoutMs ?? 30_000,
    retry: opts.retry ?? { retries: 5, initialRetryTime: 100, maxRetryTime: 2000 },
    logLevel: kafkajsLevel(logger),
    logCreator: pinoLogCreator(logger)
  })
}

export interface EnsureTopicsOptions {
  /** Only these topics (default: every topic of the registry). */
  only?: readonly TopicSpec[]
  /** How long to wait for creation and leaders, ms. Default 30000. */
  timeoutMs?: number
}

export interface EnsureTopicsResult {
  /** Names created by this call. */
  created: string[]
  /** Names that existed already (their config is left as it is). */
  existing: string[]
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

function topicToCreate (s: TopicSpec): ITopicConfig {
  return {
    topic: s.name,
    numPartitions: s.partitions,
    replicationFactor: s.replicationFactor,
    configEntries: Object.entries(s.config).map(([name, value]) => ({ name, value }))
  }
}

/**
 * Creates the registry's missing topics with their config and returns once every partition of
 * every topic has a leader in the metadata (so producers and consumers can start at once).
 * Existing topics are not altered. Safe to run from several services at once.
 * Throws BUS_TOPICS_NOT_READY when that does not happen within `timeoutMs`.
 */
export async function ensureTopics (admin: Admin, registry: TopicRegistry, opts: EnsureTopicsOptions = {}): Promise<EnsureTopicsResult> {
  const specs = opts.only ?? registry.all()
  const timeoutMs = opts.timeoutMs ?? 30_000
  const deadline = Date.now() + timeoutMs
  const names = specs.map((s) => s.name)
  let createError: unknown
  try {
    const existing = new Set(await admin.listTopics())
    const missing = specs.filter((s) => !existing.has(s.name))
    if (missing.length > 0) {
      try {
        // Leaders are awaited below, not by kafkajs: its wait gives up at the first
        // UNKNOWN_TOPIC_OR_PARTITION, which a busy broker answers for a topic the controller has
        // just created until the broker's own metadata has caught up.
        await admin.createTopics({ topics: missing.map(topicToCreate), waitForLeaders: false, timeout: timeoutMs })
      } catch (err) {
        // Another instance may have created some of them meanwhile, or a busy controller did not
        // answer in time while it went on creating them: the wait below decides. A refusal
        // (bad config, too few brokers) fails at once unless the topics exist after all.
        if (creationRefused(err)) {
          const now = new Set(await admin.listTopics())
          if (!missing.every((s) => now.has(s.name))) throw err
        }
        createError = err
      }
    }
    // Check every topic we were given, as a consumer that starts before its topic's metadata
    // exists may sit without an assignment.
    for (;;) {
      let notReady: string[]
      try {
        const { topics } = await admin.fetchTopicMetadata({ topics: names })
        notReady = topics.filter((t) => t.partitions.length === 0 || t.partitions.some((p) => p.leader < 0 || p.partitionErrorCode !== 0)).map((t) => t.name)
      } catch (err) {
        // A topic just created (by us or another service) can be unknown to this broker until its
        // metadata arrives ("does not host this topic-partition"): retriable until the deadline.
        if (!isRetriable(err)) throw err
        notReady = names
      }
      if (notReady.length === 0) break
      if (Date.now() > deadline) {
        throw BusErrors.BUS_TOPICS_NOT_READY.create({ message: `topics without leaders after ${timeoutMs} ms: ${notReady.join(', ')}`, ...(createError !== undefined ? { cause: createError } : {}) })
      }
      await sleep(100)
    }
    return { created: missing.map((s) => s.name), existing: specs.filter((s) => existing.has(s.name)).map((s) => s.name) }
  } catch (err) {
    if (BusErrors.BUS_TOPICS_NOT_READY.is(err)) throw err
    throw BusErrors.BUS_TOPICS_NOT_READY.create({ cause: err, detail: { topics: names } })
  }
}

function isRetriable (err: unknown): boolean {
  return (err as { retriable?: boolean } | null)?.retriable === true
}

/** Kafka's errors that only mean "not yet" or "someone else did it" for a topic creation. */
const CREATION_NOT_REFUSED = new Set(['TOPIC_ALREADY_EXISTS', 'REQUEST_TIMED_OUT', 'NOT_CONTROLLER'])

/** True when a createTopics failure is a real refusal, not a timeout, a retry or a race with another creator. */
function creationRefused (err: unknown): boolean {
  const e = err as { name?: string, type?: string, errors?: unknown[] } | null
  if (e?.name === 'KafkaJSAggregateError' && Array.isArray(e.errors)) return e.errors.some(creationRefused)
  if (e?.name === 'KafkaJSNumberOfRetriesExceeded' || e?.name === 'KafkaJSRequestTimeoutError' || e?.name === 'KafkaJSTimeout') return false
  if (typeof e?.type === 'string' && CREATION_NOT_REFUSED.has(e.type)) return false
  return !isRetriable(err)
}

/** The current config values of a topic (e.g. to check `max.message.bytes`). */
export async function describeTopicConfig (admin: Admin, topic: string, names?: string[]): Promise<Record<string, string>> {
  const res = await admin.describeConfigs({
    includeSynonyms: false,
    resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, ...(names !== undefined ? { configNames: names } : {}) }]
  })
  const out: Record<string, string> = {}
  for (const r of res.resources) for (const e of r.configEntries) out[e.configName] = e.configValue
  return out
}

export interface KafkaReadiness {
  ready: boolean
  /** Brokers the cluster reported (when ready). */
  brokers?: number
  /** Why not ready. */
  error?: string
}

const probes = new WeakMap<Admin, Promise<KafkaReadiness>>()

/**
 * Readiness probe: the cluster answers `describeCluster` within `timeoutMs` (default 2000).
 * Never throws. Concurrent probes on one admin share one request, so a slow broker does not
 * pile up requests. Give the probe's admin a small client retry (`createKafka({ retry })`).
 */
export function kafkaReady (admin: Admin, timeoutMs = 2000): Promise<KafkaReadiness> {
  const running = probes.get(admin)
  if (running !== undefined) return running
  let timer: NodeJS.Timeout | undefined
  const probe = Promise.race([
    admin.describeCluster().then((c): KafkaReadiness => ({ ready: c.brokers.length > 0, brokers: c.brokers.length })),
    new Promise<KafkaReadiness>((resolve) => { timer = setTimeout(() => resolve({ ready: false, error: `no answer within ${timeoutMs} ms` }), timeoutMs) })
  ]).catch((err: unknown): KafkaReadiness => ({ ready: false, error: err instanceof Error ? err.message : String(err) }))
    .finally(() => { clearTimeout(timer); probes.delete(admin) })
  probes.set(admin, probe)
  return probe
}
