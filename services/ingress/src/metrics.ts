/**
 * Ingress's Prometheus metrics, on the app's registry (`GET /metrics`). Producer batches and
 * publish time-outs come from the bus's diagnostics channels: the bus keeps no metrics itself.
 */
import diagnostics from 'node:diagnostics_channel'
import { BUS_CHANNELS, type BatchDiagnostic, type PublishTimeoutDiagnostic } from '@coexist/bus'
import { Counter, Histogram, type Registry } from '@coexist/http'

/** How a webhook POST ended (label `outcome` of `ingress_webhook_requests_total`). */
export type RequestOutcome =
  | 'routed' // 200: archived, every change on its field's topic
  | 'unrouted' // 200: archived, something went to the unrouted topic
  | 'signature_rejected' // 401: nothing published
  | 'too_large' // 413
  | 'kafka_unavailable' // 503: Kafka did not acknowledge in time; Meta retries
  | 'bad_request' // other 4xx
  | 'error' // 5xx other than Kafka

export type SignatureFailure = 'missing' | 'malformed' | 'mismatch' | 'other_app' | 'unknown_app'

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

export interface IngressMetrics {
  requests: Counter<'outcome'>
  signatureFailures: Counter<'reason'>
  verifications: Counter<'result'>
  unrouted: Counter<'reason'>
  /** Change records acknowledged by Kafka, by topic key. */
  changes: Counter<'topic'>
  /** From the first publish of a request until Kafka acknowledged all its records (or one failed). */
  publishDuration: Histogram<'outcome'>
  /** Requests answered 503 because of Kafka, by the bus error code. */
  publishFailures: Counter<'code'>
  batchRecords: Histogram<never>
  batchBytes: Histogram<never>
  batchLatency: Histogram<'outcome'>
  /** Failed producer batches (by kafkajs error type) and publish deadlines missed (`publish_timeout`). */
  kafkaErrors: Counter<'error'>
}

/** Registers ingress's metrics on `registry`. */
export function createIngressMetrics (registry: Registry): IngressMetrics {
  const registers = [registry]
  return {
    requests: new Counter({ name: 'ingress_webhook_requests_total', help: 'Webhook POSTs by outcome', labelNames: ['outcome'], registers }),
    signatureFailures: new Counter({ name: 'ingress_signature_failures_total', help: 'Webhook POSTs refused for their X-Hub-Signature-256, by reason', labelNames: ['reason'], registers }),
    verifications: new Counter({ name: 'ingress_verifications_total', help: 'GET verification handshakes, by result', labelNames: ['result'], registers }),
    unrouted: new Counter({ name: 'ingress_unrouted_total', help: 'Records sent to the unrouted topic, by reason', labelNames: ['reason'], registers }),
    changes: new Counter({ name: 'ingress_changes_total', help: 'Webhook changes acknowledged by Kafka, by topic', labelNames: ['topic'], registers }),
    publishDuration: new Histogram({
      name: 'ingress_publish_duration_seconds',
      help: 'Time from publishing a request\'s records until Kafka acknowledged all of them, by outcome',
      labelNames: ['outcome'],
      buckets: LATENCY_BUCKETS,
      registers
    }),
    publishFailures: new Counter({ name: 'ingress_publish_failures_total', help: 'Webhook POSTs answered 503 because Kafka did not acknowledge, by error code', labelNames: ['code'], registers }),
    batchRecords: new Histogram({ name: 'ingress_kafka_batch_records', help: 'Records per producer batch (group commit)', buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2000], registers }),
    batchBytes: new Histogram({ name: 'ingress_kafka_batch_bytes', help: 'Key and value bytes per producer batch, before compression', buckets: [1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216], registers }),
    batchLatency: new Histogram({ name: 'ingress_kafka_batch_latency_seconds', help: 'Producer batch send time until acknowledged or failed, by outcome', labelNames: ['outcome'], buckets: LATENCY_BUCKETS, registers }),
    kafkaErrors: new Counter({ name: 'ingress_kafka_errors_total', help: 'Failed producer batches by error type, and publish deadlines missed (publish_timeout)', labelNames: ['error'], registers })
  }
}

/**
 * Turns the bus's diagnostics into metrics. Channels are process-wide: several producers in one
 * process (tests) all report here. Returns the unsubscribe function.
 */
export function observeBusDiagnostics (m: IngressMetrics): () => void {
  const onBatch = (message: unknown): void => {
    const d = message as BatchDiagnostic
    m.batchRecords.observe(d.size)
    m.batchBytes.observe(d.bytes)
    m.batchLatency.observe({ outcome: d.ok ? 'ok' : 'failed' }, d.latencyMs / 1000)
    if (!d.ok) m.kafkaErrors.inc({ error: (d.error ?? 'unknown').slice(0, 64) })
  }
  const onTimeout = (_message: unknown): void => {
    const d = _message as PublishTimeoutDiagnostic
    m.kafkaErrors.inc({ error: d.inFlight ? 'publish_timeout_in_flight' : 'publish_timeout' })
  }
  diagnostics.subscribe(BUS_CHANNELS.batch, onBatch)
  diagnostics.subscribe(BUS_CHANNELS.publishTimeout, onTimeout)
  return () => {
    diagnostics.unsubscribe(BUS_CHANNELS.batch, onBatch)
    diagnostics.unsubscribe(BUS_CHANNELS.publishTimeout, onTimeout)
  }
}
