import { createBusConsumer, type BusConsumer, type BusProducer, type Kafka, type TopicRegistry } from '@coexist/bus'
import type { Db, TokenCipher } from '@coexist/db'
import type { Logger } from '@coexist/logger'
import { syncConsumers } from './consumers/table.ts'
import { createNumberDirectory } from './ingest/number-directory.ts'
import { checkAppActivity } from './workers/activity-monitor.ts'
import { createOutboxRelay, type OutboxRelay } from './workers/outbox-relay.ts'
import { runSyncRequests, type SyncGraph } from './workers/sync-requester.ts'

export interface SyncRuntimeDeps {
  db: Db
  kafka: Kafka
  registry: TopicRegistry
  producer: BusProducer
  logger: Logger
  cipher: TokenCipher
  graph: SyncGraph
  clock?: () => Date
  groupId?: string
  /** How often due sync requests are looked for, ms. Default 1000. */
  syncIntervalMs?: number
  /** How often app activity is checked, ms. Default 10 minutes. */
  activityIntervalMs?: number
  /** Consumer tuning passed to the bus (tests shorten the waits). */
  consumer?: { maxWaitTimeMs?: number, commitIntervalMs?: number, sessionTimeoutMs?: number, heartbeatIntervalMs?: number }
}

export interface SyncRuntime {
  /** Live topics (messages, echoes, state sync, account updates, outbound). */
  consumer: BusConsumer
  /** The history topic, in its own group: few large records in flight, bounded memory. */
  historyConsumer: BusConsumer
  relay: OutboxRelay
  /** Runs a sync-request round now (after an onboarding started). */
  kickSync: () => void
  stop: () => Promise<void>
}

/**
 * Starts what runs beside the HTTP app: the webhook/outbound consumers, the outbox relay to
 * wa.events.v1, the sync-request loop and the app-activity check. `stop()` ends them in order:
 * consumers first (in-flight records finish and commit), then the loops, then a last relay round.
 */
export async function startSyncRuntime (deps: SyncRuntimeDeps): Promise<SyncRuntime> {
  const clock = deps.clock ?? (() => new Date())
  const log = deps.logger.child({ component: 'sync-runtime' })
  const relay = createOutboxRelay({ db: deps.db, producer: deps.producer, logger: deps.logger })
  const groupId = deps.groupId ?? 'sync'
  const handlers = syncConsumers({ db: deps.db, directory: createNumberDirectory(), clock, afterCommit: () => relay.kick() })
  const { 'webhook.history': history, ...live } = handlers
  const common = { kafka: deps.kafka, registry: deps.registry, producer: deps.producer, logger: deps.logger, ...deps.consumer }
  const consumer = createBusConsumer({ ...common, groupId, maxBytesPerPartition: 1024 * 1024, maxPendingPerPartition: 2000, handlers: live })
  // History chunks reach megabytes each: fetch little ahead, keep few in memory.
  const historyConsumer = createBusConsumer({ ...common, groupId: `${groupId}-history`, maxBytesPerPartition: 2 * 1024 * 1024, maxPendingPerPartition: 4, handlers: { 'webhook.history': history } })
  relay.start()
  await Promise.all([consumer.start(), historyConsumer.start()])

  let stopped = false
  let syncTimer: NodeJS.Timeout | undefined
  let syncRound: Promise<void> | undefined
  const syncLoop = (): void => {
    if (stopped || syncRound !== undefined) return
    clearTimeout(syncTimer)
    syncRound = runSyncRequests({ db: deps.db, graph: deps.graph, cipher: deps.cipher, logger: deps.logger, clock })
      .then((r) => { if (r.accepted + r.expired + r.failed > 0) relay.kick() })
      .catch((err: unknown) => { log.warn({ err }, 'sync request round failed') })
      .finally(() => { syncRound = undefined; if (!stopped) syncTimer = setTimeout(syncLoop, deps.syncIntervalMs ?? 1000) })
  }
  syncLoop()
  const checkActivity = (): void => {
    checkAppActivity(deps.db, clock()).then((n) => { if (n > 0) relay.kick() }).catch((err: unknown) => { log.warn({ err }, 'app activity check failed') })
  }
  const activity = setInterval(checkActivity, deps.activityIntervalMs ?? 10 * 60 * 1000)
  const firstActivity = setTimeout(checkActivity, 2000)

  return {
    consumer,
    historyConsumer,
    relay,
    kickSync: syncLoop,
    async stop () {
      stopped = true
      clearInterval(activity)
      clearTimeout(firstActivity)
      clearTimeout(syncTimer)
      await Promise.all([consumer.stop(), historyConsumer.stop()])
      await syncRound
      await relay.stop()
      await relay.drain().catch((err: unknown) => { log.warn({ err }, 'last outbox round failed') })
    }
  }
}
