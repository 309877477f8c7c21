/**
 * Ingress configuration: the shared sections (HTTP, log, Kafka, Meta webhook secrets) and the
 * ingress-specific knobs. Parsed once by `main.ts`; everything else receives the frozen result.
 */
import { LARGE_MESSAGE_BYTES } from '@coexist/bus'
import { httpSection, kafkaSection, loadConfig, logSection, metaWebhookSection, type ConfigOf } from '@coexist/config'
import { z } from 'zod'

/** Meta's largest webhook body is 3 MB; the default limit leaves headroom above it. */
export const DEFAULT_BODY_LIMIT_BYTES = 4 * 1024 * 1024
/** The largest body limit that still fits a raw-archive record (topic limit, less room for the envelope). */
const MAX_BODY_LIMIT_BYTES = LARGE_MESSAGE_BYTES - 64 * 1024
/** How long a request waits for Kafka's acknowledgement before answering 503 (Meta retries). */
export const DEFAULT_PUBLISH_TIMEOUT_MS = 5000
/** Time between readiness turning false and the server closing, so load balancers move away. */
const DEFAULT_DRAIN_MS = 5000

const positiveInt = (what: string) => z.coerce.number({ error: `must be ${what}` }).int(`must be ${what}`).positive(`must be ${what}`)

const ingressSection = z.object({
  INGRESS_BODY_LIMIT_BYTES: positiveInt('a number of bytes')
    .min(3 * 1000 * 1000 + 1, 'must exceed Meta\'s 3 MB maximum webhook body')
    // A body is archived whole in one record: it must fit the webhook topics' record limit.
    .max(MAX_BODY_LIMIT_BYTES, `must stay under the webhook topics' record limit (${MAX_BODY_LIMIT_BYTES} bytes)`)
    .default(DEFAULT_BODY_LIMIT_BYTES),
  INGRESS_PUBLISH_TIMEOUT_MS: positiveInt('a number of milliseconds').default(DEFAULT_PUBLISH_TIMEOUT_MS),
  INGRESS_DRAIN_MS: z.coerce.number({ error: 'must be a number of milliseconds' }).int().min(0).default(DEFAULT_DRAIN_MS),
  /** Partitions of the webhook topics when ingress creates them (existing topics are left as they are). */
  INGRESS_TOPIC_PARTITIONS: positiveInt('a positive integer').optional(),
  INGRESS_TOPIC_REPLICATION: positiveInt('a positive integer').default(1)
}).transform((e) => ({
  bodyLimitBytes: e.INGRESS_BODY_LIMIT_BYTES,
  publishTimeoutMs: e.INGRESS_PUBLISH_TIMEOUT_MS,
  drainMs: e.INGRESS_DRAIN_MS,
  topicPartitions: e.INGRESS_TOPIC_PARTITIONS,
  replicationFactor: e.INGRESS_TOPIC_REPLICATION
}))

const SECTIONS = {
  http: httpSection(8080),
  log: logSection,
  kafka: kafkaSection,
  meta: metaWebhookSection,
  ingress: ingressSection
}

export type IngressConfig = ConfigOf<typeof SECTIONS>

/** Parses ingress's configuration from `env`; throws a ConfigError naming every bad variable. */
export function loadIngressConfig (env: Record<string, string | undefined>): IngressConfig {
  return loadConfig(env, SECTIONS)
}
