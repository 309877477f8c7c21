/**
 * What billing runs beside its HTTP app: the consumers (outbound results, messages with their
 * statuses, echoes, account updates) feeding the group-commit batcher and the ledger engine, the
 * outbox relay that publishes UsageRecord and TenantBalanceEvent, and a periodic re-evaluation
 * of balances (a monthly spend limit lifts when the month changes).
 */
import { createBusConsumer, type BusConsumer, type BusProducer, type Kafka, type TopicRegistry } from '@coexist/bus'
import type { Db } from '@coexist/db'
import type { Logger } from '@coexist/logger'
import { billingHandlers } from './consumers/table.ts'
import { AccountCache } from './ledger/accounts.ts'
import { FactBatcher } from './ledger/fact-batcher.ts'
import { createOutboxRelay, type OutboxRelay } from './ledger/outbox-relay.ts'
import { applyFacts, repriceOpenLines, type PricerDeps } from './ledger/pricer.ts'
import { RateBook } from './ledger/rate-book.ts'
import { reevaluateBalances } from './store/balances.ts'

/**
 * Billing's producer settings (connectBus): usage records leave uncompressed. They are small,
 * and gzip at the bus default (from 16 KiB per partition batch) cost about a tenth of the worker's
 * CPU per status event (`pnpm bench billing`: 71.5 → 62.0 µs); ingress publishes uncompressed too.
 */
export const BILLING_PRODUCER = { compressMinBytes: Number.POSITIVE_INFINITY } as const

/**
 * Records of a partition in flight (fetched, not yet committed). `pnpm bench billing`: 300 → 600
 * took 13,124 → 15,307 / 15,433 events/s and 62.8 → 57.1 / 56.2 µs of worker CPU per event, peak RSS 233 / 224 MB.
 */
const MAX_PENDING_PER_PARTITION = 600

export interface BillingRuntimeDeps {
  db: Db
  kafka: Kafka
  registry: TopicRegistry
  producer: BusProducer
  logger: Logger
  /** ms since the epoch. */
  clock?: () => number
  /** Consumer group; default `billing`. */
  groupId?: string
  /** Where a new group starts; default the earliest record (a new deployment prices history). */
  fromBeginning?: boolean
  /** Facts per pricing transaction. */
  maxBatchFacts?: number
  /** Unfinished records per partition before the consumer pauses it. Default 600. */
  maxPendingPerPartition?: number
  /** Pricing transactions running at once. Default 2. */
  maxInFlight?: number
  /** Longest a Kafka fetch waits for data (and the pause between fetches while every partition is paused), ms. */
  fetchMaxWaitMs?: number
  /** Kafka fetch size per partition, bytes. Default 64 KiB. */
  fetchMaxBytesPerPartition?: number
  onFatal?: (err: Error) => void
}

export interface BillingRuntime {
  pricer: PricerDeps
  batcher: FactBatcher
  relay: OutboxRelay
  consumer: BusConsumer
  /** Recomputes pending/unpriced lines. */
  reprice: () => Promise<number>
  /** Forget cached rate cards and accounts. */
  invalidate: () => void
  stop: () => Promise<void>
}

/** Pricing pieces without Kafka (the app and tests of the ledger use them too). */
export function createPricer (db: Db, logger: Logger, clock: () => number): PricerDeps {
  return { db, rateBook: new RateBook(), accounts: new AccountCache(), clock: { now: clock }, logger: logger.child({ component: 'pricer' }) }
}

export async function startBillingRuntime (deps: BillingRuntimeDeps): Promise<BillingRuntime> {
  const clock = deps.clock ?? Date.now
  const pricer = createPricer(deps.db, deps.logger, clock)
  const relay = createOutboxRelay({ db: deps.db, producer: deps.producer, logger: deps.logger })
  const batcher = new FactBatcher({
    apply: async (facts) => await applyFacts(pricer, facts),
    logger: deps.logger,
    maxFacts: deps.maxBatchFacts,
    maxInFlight: deps.maxInFlight,
    afterCommit: relay.kick
  })
  const consumer = createBusConsumer({
    kafka: deps.kafka,
    registry: deps.registry,
    producer: deps.producer,
    logger: deps.logger,
    groupId: deps.groupId ?? 'billing',
    fromBeginning: deps.fromBeginning ?? true,
    handlers: billingHandlers({ batcher }, { concurrency: deps.maxPendingPerPartition ?? MAX_PENDING_PER_PARTITION }),
    // Records in flight are what the process's memory holds (each keeps its fetch buffer until
    // its batch commits): enough for full batches across a busy topic's partitions, no more.
    // Sized for a 256 MB container (600 × 12 partitions ≈ 7,200 records per topic): more than
    // one transaction's worth, so the next records are fetched and decoded while a transaction
    // runs. 600 fits since the consumer holds only the raw records and their facts while they
    // wait (not their decoded form).
    maxPendingPerPartition: deps.maxPendingPerPartition ?? MAX_PENDING_PER_PARTITION,
    maxBytesPerPartition: deps.fetchMaxBytesPerPartition ?? 64 * 1024,
    // When the busy partitions are paused (records in flight at the cap), a fetch holds only the
    // idle ones and the broker keeps it for this long (with every partition paused kafkajs sleeps
    // this long instead): short, so resumed partitions refill fast.
    maxWaitTimeMs: deps.fetchMaxWaitMs ?? 100,
    onFatal: deps.onFatal
  })
  await consumer.start()

  const invalidate = (): void => { pricer.rateBook.invalidate(); pricer.accounts.clear() }
  const reprice = async (): Promise<number> => {
    const n = await repriceOpenLines(pricer)
    relay.kick()
    return n
  }
  const balanceTimer = setInterval(() => {
    reevaluateBalances(deps.db, clock()).then((n) => { if (n > 0) relay.kick() }, (err: unknown) => deps.logger.warn({ err }, 'balance re-evaluation failed'))
  }, 60_000)
  balanceTimer.unref()

  return {
    pricer,
    batcher,
    relay,
    consumer,
    reprice,
    invalidate,
    stop: async () => {
      clearInterval(balanceTimer)
      await consumer.stop()
      await batcher.flush()
      await relay.stop()
      await relay.drain().catch(() => 0)
    }
  }
}
