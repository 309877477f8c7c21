/**
 * The outbound sender's background side: the send worker and the consumers that feed it
 * (requests), keep its view of windows, deliveries and balances (state), and count inbound
 * traffic against numbers (traffic). `main.ts` starts it beside the HTTP app; tests start it on
 * their own topics and kill it to play a crash.
 */
import { hostname } from 'node:os'
import { createBusConsumer, type BusConsumer, type BusProducer, type Kafka, type TopicRegistry } from '@coexist/bus'
import type { Db } from '@coexist/db'
import type { Registry } from '@coexist/http'
import type { Logger } from '@coexist/logger'
import type { GraphClient } from '@coexist/meta'
import { requestHandlers, stateHandlers, trafficHandlers, type TrafficOptions } from './consumers/consumer-tables.ts'
import { SendWorker, type NumberSource, type SendWorkerOptions } from './worker/send-worker.ts'

export interface OutboundRuntimeDeps {
  db: Db
  kafka: Kafka
  registry: TopicRegistry
  producer: BusProducer
  logger: Logger
  graph: Pick<GraphClient, 'sendValidatedMessage' | 'markAsRead'>
  numbers: NumberSource
  /** Consumer group of the requests; the others derive from it. Default `outbound-sender`. */
  groupId?: string
  /** Names this process's traffic group (default host and pid). */
  instanceId?: string
  traffic?: TrafficOptions
  /** Unfinished requests per partition before it is paused. Default 1,000 (backlogs beyond a lane's few seconds are parked, not held). */
  maxPendingPerPartition?: number
  /**
   * Requests the worker may hold in memory over all partitions (about 5 KB each with the Kafka
   * client's share); past it the requests topic is paused until 80 % of that. Default 10,000.
   */
  maxHeld?: number
  /** How often the worker learns the consumer's assignment (parked backlogs follow it), ms. Default 1000. */
  assignmentPollMs?: number
  /** Which consumers run: the worker, the state consumer (windows, deliveries, balances), or both (default). */
  roles?: { worker?: boolean, state?: boolean }
  worker?: Omit<SendWorkerOptions, 'db' | 'graph' | 'numbers' | 'publishResult' | 'publishDeadLetter' | 'logger' | 'metrics'>
  metrics?: Registry
  /** Consumer tuning for tests (session, fetch wait). */
  consumer?: { sessionTimeoutMs?: number, heartbeatIntervalMs?: number, maxWaitTimeMs?: number, commitIntervalMs?: number }
}

export interface OutboundRuntime {
  worker: SendWorker | undefined
  /** Graceful: in-flight sends finish and are recorded, waiting requests go back to Kafka. */
  stop: () => Promise<void>
  /** As a crash: nothing more is sent or recorded; the next owner takes over from Kafka and Postgres. */
  kill: () => Promise<void>
}

/** Starts the worker and the consumers; resolves once they joined their groups. */
export async function startOutboundRuntime (deps: OutboundRuntimeDeps): Promise<OutboundRuntime> {
  const group = deps.groupId ?? 'outbound-sender'
  const common = { kafka: deps.kafka, registry: deps.registry, producer: deps.producer, logger: deps.logger, ...deps.consumer }
  const roles = { worker: deps.roles?.worker ?? true, state: deps.roles?.state ?? true }
  let worker: SendWorker | undefined
  const consumers: BusConsumer[] = []
  let requests: BusConsumer | undefined

  if (roles.worker) {
    worker = new SendWorker({
      ...deps.worker,
      db: deps.db,
      graph: deps.graph,
      numbers: deps.numbers,
      logger: deps.logger,
      ...(deps.metrics !== undefined ? { metrics: deps.metrics } : {}),
      publishResult: (value, ctx) => deps.producer.publish('outbound.results', { key: value.phoneNumberId as string, value, ...(ctx.traceId !== undefined ? { traceId: ctx.traceId } : {}) }),
      publishDeadLetter: (value, ctx) => deps.producer.publish('outbound.dlq', { key: value.request?.phoneNumberId ?? '', value, tenantId: value.request?.tenantId, ...(ctx.traceId !== undefined ? { traceId: ctx.traceId } : {}) })
    })
    requests = createBusConsumer({
      ...common,
      groupId: group,
      handlers: requestHandlers(worker),
      maxPendingPerPartition: deps.maxPendingPerPartition ?? 1000,
      // Small fetches (~200 requests per partition): a decoded record costs a few KB, so a
      // backlog is taken in bites; the memory budget below is overshot by at most one of them.
      maxBytesPerPartition: 64 * 1024,
      partitionsConsumedConcurrently: 8,
      // Give-backs settle at once; a longer wait only delays a rebalance.
      stopTimeoutMs: 5000
    })
    const traffic = trafficHandlers(worker, deps.traffic ?? { inbound: true, echoes: true })
    if (traffic !== undefined) {
      consumers.push(createBusConsumer({
        ...common,
        groupId: `${group}-traffic-${deps.instanceId ?? `${hostname()}-${process.pid}`}`,
        handlers: traffic,
        fromBeginning: false
      }))
    }
  }
  if (roles.state) consumers.push(createBusConsumer({ ...common, groupId: `${group}-state`, handlers: stateHandlers(deps.db) }))

  const all = requests === undefined ? consumers : [requests, ...consumers]
  await Promise.all(all.map((c) => c.start()))

  // The memory budget: stop fetching requests while the worker holds too many. And the
  // assignment: parked backlogs of newly owned partitions are resumed from Postgres.
  let budgetTimer: NodeJS.Timeout | undefined
  let assignmentTimer: NodeJS.Timeout | undefined
  if (requests !== undefined && worker !== undefined) {
    const topic = deps.registry.topic('outbound.requests').name
    const owned = (): number[] => requests?.assignments().find((a) => a.topic === topic)?.partitions ?? []
    await worker.setAssignment(owned())
    assignmentTimer = setInterval(() => { void worker?.setAssignment(owned()) }, deps.assignmentPollMs ?? 1000)
    assignmentTimer.unref()
    const maxHeld = deps.maxHeld ?? 10_000
    const consumer = requests
    const w = worker
    let paused = false
    budgetTimer = setInterval(() => {
      const held = w.stats().held
      if (!paused && held >= maxHeld) { consumer.pause(['outbound.requests']); paused = true } else if (paused && held <= maxHeld * 0.8) { consumer.resume(['outbound.requests']); paused = false }
    }, 50)
    budgetTimer.unref()
  }
  deps.logger.info({ group, worker: roles.worker, state: roles.state }, 'outbound runtime started')

  return {
    worker,
    async stop () {
      clearInterval(budgetTimer)
      clearInterval(assignmentTimer)
      const stopping = requests?.stop()
      await worker?.drain()
      await stopping
      await Promise.all(consumers.map((c) => c.stop()))
    },
    async kill () {
      clearInterval(budgetTimer)
      clearInterval(assignmentTimer)
      const stopping = requests?.stop()
      worker?.kill()
      await stopping
      await Promise.all(consumers.map((c) => c.stop()))
    }
  }
}
