/**
 * Diagnostics on `node:diagnostics_channel`, for services to turn into metrics (the bus itself
 * keeps no metrics state). Subscribe with `diagnostics_channel.subscribe(BUS_CHANNELS.batch, fn)`.
 */
import diagnostics from 'node:diagnostics_channel'

export const BUS_CHANNELS = {
  /** One producer batch settled: {@link BatchDiagnostic}. */
  batch: 'coexist:bus:batch',
  /** A publish() gave up waiting: {@link PublishTimeoutDiagnostic}. */
  publishTimeout: 'coexist:bus:publish-timeout',
  /** A consumer handler attempt finished: {@link HandleDiagnostic}. */
  handle: 'coexist:bus:handle',
  /** A record went to the dead-letter topic: {@link DeadLetterDiagnostic}. */
  deadLetter: 'coexist:bus:dead-letter',
  /** A consumer committed offsets: {@link CommitDiagnostic}. */
  commit: 'coexist:bus:commit',
  /** A consumer's assignment changed: {@link RebalanceDiagnostic}. */
  rebalance: 'coexist:bus:rebalance'
} as const

export interface BatchDiagnostic {
  /** Records in the batch. */
  size: number
  /** Key + value bytes, before compression. */
  bytes: number
  topics: number
  compressed: boolean
  /** sendBatch duration (until Kafka acknowledged or failed), ms. */
  latencyMs: number
  /** How long the oldest record waited in the batcher before the send, ms. */
  waitMs: number
  ok: boolean
  error?: string
}
export interface PublishTimeoutDiagnostic { topic: string, inFlight: boolean, timeoutMs: number }
export interface HandleDiagnostic {
  topic: string
  partition: number
  groupId: string
  durationMs: number
  attempt: number
  outcome: 'ok' | 'retry' | 'dead-letter'
}
export interface DeadLetterDiagnostic { topic: string, partition: number, groupId: string, reason: string }
export interface CommitDiagnostic { groupId: string, topic: string, partition: number, offset: string }
export interface RebalanceDiagnostic { groupId: string, kind: 'rebalancing' | 'joined' | 'crash', assigned: number }

export const channels = {
  batch: diagnostics.channel(BUS_CHANNELS.batch),
  publishTimeout: diagnostics.channel(BUS_CHANNELS.publishTimeout),
  handle: diagnostics.channel(BUS_CHANNELS.handle),
  deadLetter: diagnostics.channel(BUS_CHANNELS.deadLetter),
  commit: diagnostics.channel(BUS_CHANNELS.commit),
  rebalance: diagnostics.channel(BUS_CHANNELS.rebalance)
}
