/**
 * `pnpm bench billing`: status events through pricing into the ledger. The real billing runtime
 * runs in a child process (heap sized for a 256 MB container) and consumes `wa.webhook.messages`
 * records in the shape ingress publishes, each carrying one status with Meta's pricing object:
 *   1. throughput: BENCH_STATUSES (default 1,000,000) status events published first, then priced
 *      from the backlog; events/s from the worker's start to its last committed offset;
 *   2. lag: status events published at BENCH_RATE (default 20,000/s) while the worker runs; the
 *      end-to-end lag is the ledger line's last update minus the publish time.
 * Every charged line also goes out as a UsageRecord (outbox → wa.billing.usage.v1), included in
 * the work measured. Prints figures, asserts nothing.
 * Broker warm-up (on by default; BENCH_WARMUP_STATUSES=0 skips it): the bench starts a fresh Kafka
 * broker, whose JVM spends its first minute or so compiling Kafka's hot paths on the same two cores
 * (a broker in service has long done that; tests/bench/ingress.bench.ts warms it for the same
 * reason). Before the worker starts, BENCH_WARMUP_STATUSES (default 500,000) status events are
 * published to topics of their own (prefix `benchwarm…`) and read back by a consumer group of its
 * own in the bench process, with the worker's fetch settings and a handler that does nothing:
 * only the broker is warmed. They are not counted anywhere (no worker reads them, nothing reaches
 * the ledger), and the measured worker is a fresh process started after the warm-up. The bench
 * prints what the warm-up did, the broker's JIT compiler CPU during it, and during the backlog the broker's CPU
 * in its JIT compiler, G1 GC and request handling threads.
 * BENCH_NODE_ARGS overrides the worker's Node flags (default: the image's, heap sized for a 256 MB container);
 * BENCH_PROFILE=1 writes a CPU profile of the worker to /tmp/billing-bench-prof;
 * BENCH_WORKER_LOG_LEVEL=debug logs each pricing transaction's timings (kafkajs stays quiet);
 * BENCH_KAFKA_REQUESTS=1 prints each worker's Kafka requests by API when it stops.
 * BENCH_WORKERS=N (default 1) runs N worker processes in the one consumer group (12 partitions), as the
 * service scales out: they start together, the backlog is timed from the moment every one of them has
 * joined (what the group committed before that is not counted), and each one's CPU and peak RSS is printed.
 * Also prints the worker's CPU time per status event during the backlog (steadier than events/s on a shared machine),
 * where the machine's CPU went in each phase (worker, Postgres, Kafka, the bench process, everything else) and the
 * Postgres statements and transactions per status event.
 */
import { fork, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { createDb, sql } from '@coexist/db'
import { imageRuntime } from '../../scripts/lib/image-runtime.ts'
import { BROKER_JIT_THREADS, cpuReport, cpuSnapshot, threadsCpuSeconds } from '../../scripts/lib/machine-cpu.ts'
import { benchBus, lagPercentiles, publishStatuses, runPricingWorker, seedAccounts, warmUpBroker } from '../../services/billing/test/bench/pricing-bench.ts'

const STATUSES = Number(process.env.BENCH_STATUSES ?? 1_000_000)
const RATE = Number(process.env.BENCH_RATE ?? 20_000)
const LAG_SECONDS = Number(process.env.BENCH_LAG_SECONDS ?? 10)
const NUMBERS = Number(process.env.BENCH_NUMBERS ?? 200)
const WORKERS = Math.max(1, Math.floor(Number(process.env.BENCH_WORKERS ?? 1)))
const WARMUP = Math.max(0, Math.floor(Number(process.env.BENCH_WARMUP_STATUSES ?? 500_000) / 2) * 2)

const url = process.env.DATABASE_URL as string
const brokers = (process.env.KAFKA_BROKERS as string).split(',')

if (process.argv[2] === '--worker') {
  await runPricingWorker(url, brokers, process.argv[3] as string, process.argv[4] as string, { waitForGo: process.argv[5] === '--wait-for-go' })
  process.exit(0)
}

const db = createDb(url, { max: 2 })
const wait = async (check: () => Promise<boolean>, what: string, timeoutMs = 600_000, everyMs = 100): Promise<void> => {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what} (now ${Date.now()}, deadline ${deadline})`)
    await new Promise((resolve) => setTimeout(resolve, everyMs))
  }
}

const accounts = await seedAccounts(db, NUMBERS)
const prefix = `bench${randomBytes(3).toString('hex')}.`
const groupId = `billing-bench-${randomBytes(3).toString('hex')}`
const bus = await benchBus(brokers, prefix)
const sentAt = Date.parse('2026-01-15T12:00:00Z')
console.log(`billing bench: ${STATUSES} status events (sent + delivered of ${STATUSES / 2} messages, one status per record) on ${NUMBERS} numbers, ${WORKERS} worker process${WORKERS === 1 ? '' : 'es'} (BENCH_WORKERS)`)

// 1. Throughput from a backlog.
let t0 = performance.now()
const published = await publishStatuses(bus, accounts, 0, STATUSES / 2, 'A', sentAt)
console.log(`published: ${published} records in ${((performance.now() - t0) / 1000).toFixed(1)} s`)

// The broker's threads by kind, when this run started the broker: HotSpot's JIT compilers (`C1 CompilerThread0`, …),
// G1's collector threads (`GC Thread#0`, `G1 Conc#0`, `G1 Refine#0`, …) and Kafka's request handlers and network
// threads (`data-plane-kafka-…`); CPU seconds so far.
const brokerPid = Number(process.env.COEXIST_BENCH_KAFKA_PID ?? NaN)
const brokerThreads = (name: RegExp): number => Number.isInteger(brokerPid) ? threadsCpuSeconds(brokerPid, name) : NaN
const GC_THREADS = /^(GC Thread|G1 )/
const REQUEST_THREADS = /^data-plane-kafk/
const brokerJit = (): number => brokerThreads(BROKER_JIT_THREADS)
if (WARMUP > 0) {
  const warmPrefix = `benchwarm${randomBytes(3).toString('hex')}.`
  const warmGroup = `billing-bench-warmup-${randomBytes(3).toString('hex')}`
  const jit0 = brokerJit()
  const w0 = performance.now()
  await warmUpBroker(brokers, accounts, WARMUP, warmPrefix, warmGroup, sentAt)
  console.log(`broker warm-up: ${WARMUP} status events published to topics ${warmPrefix}* and read back by group ${warmGroup} in the bench process in ${((performance.now() - w0) / 1000).toFixed(1)} s ` +
    `(not counted; the worker starts after it; broker JIT compiler threads meanwhile ${(brokerJit() - jit0).toFixed(1)} core-s; BENCH_WARMUP_STATUSES=0 skips it)`)
} else {
  console.log('broker warm-up: none (BENCH_WARMUP_STATUSES=0)')
}

// The worker runs as the service's image does (infra/docker/billing.Dockerfile): its Node flags
// (NODE_OPTIONS and the CMD's) and its malloc arena cap.
const image = imageRuntime('billing')
const heap = process.env.BENCH_NODE_ARGS !== undefined ? process.env.BENCH_NODE_ARGS.split(' ').filter((a) => a !== '') : image.nodeArgs
const prof = process.env.BENCH_PROFILE === '1' ? ['--cpu-prof', '--cpu-prof-dir=/tmp/billing-bench-prof'] : []
const workerEnv = { ...process.env, MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX ?? image.env.MALLOC_ARENA_MAX ?? '2' }
type WorkerMessage = { loaded?: boolean, ready?: boolean, maxRssKb?: number, cpuUs?: number, queries?: number }
// With more than one worker each waits for 'go' after loading, so they join the group together.
const workers = Array.from({ length: WORKERS }, () => {
  const proc: ChildProcess = fork(fileURLToPath(import.meta.url), ['--worker', prefix, groupId, ...(WORKERS > 1 ? ['--wait-for-go'] : [])], { env: workerEnv, stdio: 'inherit', execArgv: [...heap, ...prof] })
  const messages: WorkerMessage[] = []
  proc.on('message', (m) => messages.push(m as never))
  return { proc, messages }
})
const workerName = (i: number): string => WORKERS === 1 ? 'pricing worker' : `pricing worker ${i + 1}`
/** Each worker's CPU time so far (user + system, µs) and the statements it sent. */
const workerCpu = async (): Promise<Array<{ cpuUs: number, queries: number }>> => await Promise.all(workers.map(async ({ proc, messages }, i) => {
  const seen = messages.length
  proc.send('cpu')
  await wait(async () => messages.slice(seen).some((m) => m.cpuUs !== undefined), `${workerName(i)} CPU time`, 10_000, 10)
  const m = messages.slice(seen).find((m) => m.cpuUs !== undefined)!
  return { cpuUs: m.cpuUs!, queries: m.queries ?? 0 }
}))
const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0)
/** Transactions committed or rolled back in the bench database so far (the worker's nearly all). */
const transactions = async (): Promise<number> =>
  (await sql<{ n: number }>`SELECT (xact_commit + xact_rollback)::int AS n FROM pg_stat_database WHERE datname = current_database()`.execute(db)).rows[0]?.n ?? 0
const roles: Record<string, number[]> = Object.fromEntries(workers.map(({ proc }, i) => [workerName(i), [proc.pid ?? -1]]))
roles['bench (publisher, lag polling)'] = [process.pid]
if (WORKERS > 1) {
  await wait(async () => workers.every(({ messages }) => messages.some((m) => m.loaded === true)), 'workers loaded', 120_000)
  for (const { proc } of workers) proc.send('go')
}
await wait(async () => workers.every(({ messages }) => messages.some((m) => m.ready === true)), 'workers ready', 120_000)
const cpu0 = await workerCpu()
const tx0 = await transactions()
const snap0 = cpuSnapshot()
const broker0 = [BROKER_JIT_THREADS, GC_THREADS, REQUEST_THREADS].map(brokerThreads)
t0 = performance.now()
// One worker: the whole backlog (it starts consuming as it joins, just before t0, as before). Several:
// what was left when the last one joined (the group's committed offsets).
const backlog = WORKERS === 1 ? STATUSES : await bus.lag(groupId)
await wait(async () => (await bus.lag(groupId)) === 0, 'backlog priced', 600_000, 50)
const seconds = (performance.now() - t0) / 1000
const snap1 = cpuSnapshot()
const brokerBacklog = [BROKER_JIT_THREADS, GC_THREADS, REQUEST_THREADS].map((re, i) => brokerThreads(re) - broker0[i]!)
const cpu1 = await workerCpu()
// pg_stat_database is reported by backends at the end of a transaction, with up to ~1 s delay.
await new Promise((resolve) => setTimeout(resolve, 1500))
const tx1 = await transactions()
const cpuUs = workers.map((_, i) => cpu1[i]!.cpuUs - cpu0[i]!.cpuUs)
const cpuPerEvent = sum(cpuUs) / backlog
const queries = sum(cpu1.map((c) => c.queries)) - sum(cpu0.map((c) => c.queries))
const counts = (await sql<{ state: string, n: number }>`SELECT state, count(*)::int AS n FROM billing_ledger GROUP BY state ORDER BY state`.execute(db)).rows

// 2. Lag at a steady rate.
const lagMessages = Math.floor(RATE * LAG_SECONDS / 2)
const tick = 50
const perTick = Math.max(1, Math.round(RATE * tick / 1000 / 2))
const snap2 = cpuSnapshot()
const l0 = performance.now()
for (let i = 0; i < lagMessages; i += perTick) {
  const due = l0 + (i / perTick) * tick
  const wait = due - performance.now()
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
  await publishStatuses(bus, accounts, STATUSES / 2 + i, STATUSES / 2 + Math.min(i + perTick, lagMessages), 'L', sentAt)
}
const lagPublishSeconds = (performance.now() - l0) / 1000
await wait(async () => (await bus.lag(groupId)) === 0, 'lag phase priced', 300_000, 50)
const snap3 = cpuSnapshot()
const lag = await lagPercentiles(db, 'L')

for (const { proc } of workers) proc.send('stop')
await wait(async () => workers.every(({ messages }) => messages.some((m) => m.maxRssKb !== undefined)), 'workers stopped', 120_000)
const rssMb = workers.map(({ messages }) => (messages.find((m) => m.maxRssKb !== undefined)?.maxRssKb ?? 0) / 1024)
const usage = (await sql<{ n: number }>`SELECT count(*)::int AS n FROM billing_ledger WHERE revision > 0`.execute(db)).rows[0]?.n ?? 0

console.log(`ledger lines: ${counts.map((c) => `${c.state} ${c.n}`).join(', ')}`)
if (WORKERS > 1) console.log(`${WORKERS} worker processes in one consumer group: ${STATUSES - backlog} status events were committed before the last one joined; timed from there`)
console.log(`priced: ${backlog} status events in ${seconds.toFixed(2)} s by ${WORKERS} worker process${WORKERS === 1 ? '' : 'es'}`)
console.log(`throughput: ${Math.round(backlog / seconds)} status events/s (target >= 20000)${WORKERS === 1 ? '' : ` with ${WORKERS} worker processes`}`)
// CPU per event moves far less than events/s with what else runs on the machine: the yardstick
// for comparing changes on a shared machine.
console.log(`worker CPU during the backlog: ${cpuPerEvent.toFixed(1)} µs per status event (user + system, all threads${WORKERS === 1 ? '' : `, all ${WORKERS} worker processes`}; ${(sum(cpuUs) / 1e6 / seconds * 100).toFixed(0)} % of a core)`)
if (WORKERS > 1) workers.forEach((_, i) => console.log(`  ${workerName(i)}: ${(cpuUs[i]! / 1e6).toFixed(1)} core-s, ${(cpuUs[i]! / 1e6 / seconds * 100).toFixed(0)} % of a core`))
console.log(`Postgres per status event (backlog): ${(queries / backlog).toFixed(4)} statements besides BEGIN/COMMIT (${queries}), ${((tx1 - tx0) / backlog).toFixed(5)} transactions (${tx1 - tx0}, outbox relay included)`)
console.log('where the machine\'s CPU went during the backlog (per status event priced):')
for (const line of cpuReport(snap0, snap1, roles, backlog)) console.log(`  ${line}`)
if (brokerBacklog.every(Number.isFinite)) {
  const [jit, gc, requests] = brokerBacklog.map((t) => `${t.toFixed(1)} core-s, ${(t * 1e6 / backlog).toFixed(1)} µs/event`)
  console.log(`  of the broker's: JIT compiler threads ${jit}; G1 GC threads ${gc}; request handler and network threads ${requests}`)
}
console.log(`usage records published (settled lines): ${usage}`)
console.log(`lag phase: ${lagMessages * 2} status events published at ${Math.round(lagMessages * 2 / lagPublishSeconds)} events/s`)
console.log(`end-to-end lag at that rate: p50 ${Math.round(lag.p50)} ms, p95 ${Math.round(lag.p95)} ms, p99 ${Math.round(lag.p99)} ms, max ${Math.round(lag.max)} ms`)
console.log('where the machine\'s CPU went during the lag phase (publish until priced, per status event):')
for (const line of cpuReport(snap2, snap3, roles, lagMessages * 2)) console.log(`  ${line}`)
if (WORKERS === 1) console.log(`peak RSS of the pricing process: ${rssMb[0]!.toFixed(0)} MB (limit 256 MB)`)
else console.log(`peak RSS of each pricing process (${WORKERS} processes): ${rssMb.map((r, i) => `${workerName(i)} ${r.toFixed(0)} MB`).join(', ')} (limit 256 MB each)`)

await bus.close()
await db.destroy()
