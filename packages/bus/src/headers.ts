/**
 * Record headers. Every record Coexist writes carries `event-type`, `schema` (full protobuf
 * type name), `content-type`, `tenant-id` where known and `trace-id`; dead letters add the
 * `dead-letter-*` headers.
 */
import { randomUUID } from 'node:crypto'
import type { IHeaders } from 'kafkajs'

export const HEADER = {
  eventType: 'event-type',
  schema: 'schema',
  contentType: 'content-type',
  tenantId: 'tenant-id',
  traceId: 'trace-id'
} as const

export const DEAD_LETTER_HEADER = {
  /** `decode` | `schema-mismatch` | `handler` */
  reason: 'dead-letter-reason',
  /** Coded error (`BUS_DECODE_FAILED`, or the handler error's code when it has one). */
  errorCode: 'dead-letter-error-code',
  /** The error message, cut to 1,000 characters. */
  error: 'dead-letter-error',
  sourceTopic: 'dead-letter-source-topic',
  sourcePartition: 'dead-letter-source-partition',
  sourceOffset: 'dead-letter-source-offset',
  groupId: 'dead-letter-group-id',
  attempts: 'dead-letter-attempts',
  /** When it was dead-lettered, ms since the Unix epoch. */
  at: 'dead-letter-at'
} as const

export const PROTOBUF_CONTENT_TYPE = 'application/x-protobuf'

/**
 * A W3C-style trace id: 32 lowercase hex characters. From randomUUID, whose entropy Node draws
 * in bulk (a randomBytes call per record was a visible share of a producer's CPU).
 */
export function newTraceId (): string {
  return randomUUID().replaceAll('-', '')
}

/** kafkajs headers as strings (UTF-8; the first value of a repeated header). */
export function decodeHeaders (headers: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {}
  if (headers === undefined) return out
  for (const [k, v] of Object.entries(headers)) {
    const first = Array.isArray(v) ? v[0] : v
    if (first === undefined) continue
    out[k] = typeof first === 'string' ? first : first.toString('utf8')
  }
  return out
}
