/**
 * The body of `pnpm bench outbound` (tests/bench/outbound.bench.ts): the outbound sender against the simulator with real Kafka and Postgres.
 *
 * 1. Mixed run: 500 numbers at 5 / 20 / 80 / 1,000 MPS, every one with a backlog accepted through
 *    the API beforehand; then the worker (the real service process, `OUTBOUND_ROLES=worker`,
 *    heap sized for a 256 MB container) sends it all. Per limit class: achieved rate / limit,
 *    the highest count in any one-second window at the simulator / limit, 130429s received.
 *    Totals: sends/s, sends per CPU-second of the worker process, its peak RSS, the Postgres
 *    statements it issued per send, the mean claim and Cloud API call times, and the CPU of the
 *    machine's processes meanwhile (worker, this process's simulator, Postgres, the broker), and
 *    the broker's by thread kind (JIT compilers, G1, request threads, the rest). Before the
 *    backlog is accepted, the broker is warmed up for 30 s (BENCH_BROKER_WARMUP_SECONDS; see
 *    there why: a fresh JVM's compiling is not the sender's cost, and it was half the broker's
 *    CPU per send). BENCH_KAFKA_REQUESTS=1 also prints the worker's Kafka requests per second by
 *    client and API, and the records per produce request (kafka-requests.ts). BENCH_PROMOTED=1
 *    prints what the worker promoted to the old generation from 12 to 20 s after its start, by
 *    allocation site (promoted-objects.ts; BENCH_PROMOTED_FROM / _TO move the window).
 * 2. Neighbour: unloaded 80-MPS numbers get a trickle of messages (6,400 per case by default);
 *    p99 queueing delay (202 → arrival at Meta) alone, then with a 10,000-message backlog on a
 *    5-MPS neighbour in the same (single) partition. Ratio of the two.
 *
 * Requests are accepted through the batch API as a careful client does: an Idempotency-Key per
 * batch, and the batch sent again with it after a back-off while items are refused with 503
 * OUT_NOT_DURABLE (a Kafka hiccup); the retries are counted and printed (accept-batch.ts).
 *
 * Prints figures, asserts nothing. Sizes: BENCH_SECONDS (backlog per number, in seconds of its
 * limit; default 20), BENCH_NEIGHBOUR_BACKLOG (default 10000). BENCH_VERBOSE=1 also prints the
 * worker's memory and GC, sends per second of one number per class, Postgres's statistics during
 * the worker's run (transactions, rows read per table and index), and its in-flight slots and
 * event-loop delay read every 0.5 s (the reads cost the worker some CPU and memory: compare
 * verbose runs with verbose runs); BENCH_EXPLAIN_MS=n makes Postgres
 * log the plan of every statement of the worker slower than n ms (auto_explain, on this run's
 * database only) to its server log.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { fileURLToPath } from 'node:url'
import { createBusConsumer, createBusProducer, createKafka, createTopicRegistry, ensureTopics } from '@coexist/bus'
import { createApiKey, createDb, createPhoneNumber, createTenant, createTokenCipher, sql, upsertWaba } from '@coexist/db'
import { createLogger } from '@coexist/logger'
import { maxCountInWindow, startSimulator, type RunningSimulator } from '@coexist/meta-simulator'
import { imageRuntime } from '../../../../scripts/lib/image-runtime.ts'
import { BROKER_JIT_THREADS, cpuByRole, cpuSnapshot, processCpuMs, processRssMiB, threadsCpuSeconds } from '../../../../scripts/lib/machine-cpu.ts'
import { acceptBatch } from './accept-batch.ts'
import type { KafkaRequestCounts } from './kafka-requests.ts'
import { summarizePromoted, type SamplingProfile } from './promoted-objects.ts'

const SECONDS = Number(process.env.BENCH_SECONDS ?? 20)
const NEIGHBOUR_BACKLOG = Number(process.env.BENCH_NEIGHBOUR_BACKLOG ?? 10_000)
/**
 * The neighbour phase's trickle, per case: BENCH_TRICKLE_NUMBERS unloaded 80-MPS numbers get
 * BENCH_TRICKLE_RATE messages a second each for BENCH_TRICKLE_SECONDS (default 8 × 20 × 40 s =
 * 6,400 messages, so the p99 rests on 64 of them, not 6 of 600 as before; with 3,200, one or two
 * stalls of the shared machine still moved the ratio between 1.03 and 2.17).
 */
const TRICKLE_NUMBERS = Number(process.env.BENCH_TRICKLE_NUMBERS ?? 8)
const TRICKLE_RATE = Number(process.env.BENCH_TRICKLE_RATE ?? 20)
const TRICKLE_SECONDS = Number(process.env.BENCH_TRICKLE_SECONDS ?? 40)
/**
 * Seconds of the same trickle before each measurement, not counted: a fresh process's first
 * sends (cold code, new connections, number lookups) made the tail of the case without a backlog
 * the slower one, as the other case's process is warmed up by enqueueing the backlog (p99 130 vs
 * 49 ms with 600 messages, 73 vs 34 ms with 3,200: ratios 0.38 and 0.47; 0.45–1.56 seen before).
 */
const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP_SECONDS ?? 5)
/** `mixed`, `neighbour` or both (default). */
const PHASES = (process.env.BENCH_PHASES ?? 'mixed,neighbour').split(',')
/**
 * BENCH_KAFKA_REQUESTS=1: the worker's Kafka requests while it sends, by client and API, per
 * second (kafka-requests.ts, preloaded into the worker), and the records per Produce request.
 */
const KAFKA_REQUESTS = process.env.BENCH_KAFKA_REQUESTS === '1'
const KAFKA_REQUESTS_FILE = `/tmp/outbound-bench-kafka-requests-${process.pid}.json`
/** BENCH_PROMOTED=1: the worker's promoted objects by allocation site (promoted-objects.ts, preloaded). */
const PROMOTED = process.env.BENCH_PROMOTED === '1'
const PROMOTED_FILE = `/tmp/outbound-bench-promoted-${process.pid}.json`
/** The broker's process (scripts/bench.ts starts it): its threads' CPU is printed by kind. */
const brokerPid = Number(process.env.COEXIST_BENCH_KAFKA_PID ?? NaN)
/**
 * Seconds of Kafka load before the mixed run (BENCH_BROKER_WARMUP_SECONDS; 0: none). The bench's
 * broker is a fresh JVM, which spends its first minute or so compiling Kafka's hot paths (C1/C2
 * threads on the same two cores); a production broker did that long ago. Without a warm-up the
 * JIT threads took 52.6 % of the broker's CPU during the worker's run (42 of 80 µs per send,
 * 2026-12-07), after the accept phase's 15 s of produce requests, and 44.6 % after 30 s of
 * results at the worker's rate (2,400 a second in 26 produce requests of ~90): HotSpot compiles a
 * method once it has run some 10,000 times, and at the worker's ~30 requests a second the
 * per-request paths take minutes to get there. So the warm-up makes many small requests: four
 * bus producers publish results one record (one produce request) at a time, and a bus consumer
 * reads them back (fetches, offset commits, heartbeats), on topics of its own. With it (2 runs)
 * the JIT threads took 36.9–40.0 % of the broker's CPU during the worker's run (16–23 µs per send),
 * without it 49.4–52.6 % (42–45 µs): the rest of the compiling takes longer than is worth waiting.
 */
const BROKER_WARMUP_SECONDS = Number(process.env.BENCH_BROKER_WARMUP_SECONDS ?? 30)
/** The broker's threads by kind (Linux thread names, 15 characters): G1's, and Kafka's request handlers and network threads. */
const BROKER_GC_THREADS = /^(GC Thread|G1 )/
const BROKER_REQUEST_THREADS = /^data-plane-kafk/
/** Numbers per limit class; BENCH_CLASSES="5:450,20:40,80:9,1000:1" (the default) overrides it. */
const CLASSES = (process.env.BENCH_CLASSES ?? '5:450,20:40,80:9,1000:1').split(',').map((c) => {
  const [mps, numbers] = c.split(':').map(Number)
  return { mps: mps as number, numbers: numbers as number }
})

const url = process.env.DATABASE_URL as string
const brokers = process.env.KAFKA_BROKERS as string
const root = fileURLToPath(new URL('../../../../', import.meta.url))
const main = `${root}services/outbound-sender/src/main.ts`
const logger = createLogger({ level: 'silent' })
const ADMIN_KEY = 'bench-admin-key-0123456789'
const keyBytes = randomBytes(32)
const db = createDb(url, { max: 4 })
const cipher = createTokenCipher({ current: keyBytes })
// Bodies are not needed here: keeping 95,000 of them costs this process (the simulator's) memory and GC.
const sim: RunningSimulator = await startSimulator({ port: 0, logger, recordBodies: false })

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
const pct = (x: number): string => `${(x * 100).toFixed(1)} %`
const quantile = (xs: number[], q: number): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN }

async function freePort (): Promise<number> {
  return await new Promise((resolve) => { const s = createServer(); s.listen(0, '127.0.0.1', () => { const p = (s.address() as { port: number }).port; s.close(() => resolve(p)) }) })
}

// ---- accounts -------------------------------------------------------------------------------

const tenant = await createTenant(db, { name: 'bench' })
const wabaId = '310000000000777'
await upsertWaba(db, { id: wabaId, tenantId: tenant.id })
const apiKey = (await createApiKey(db, { tenantId: tenant.id, name: 'bench', roles: ['send', 'read'] })).key
let seq = 0
async function addNumber (mps: number): Promise<string> {
  const id = `62${String(7_000_000_000_000 + ++seq)}`
  const token = `EAAGbench${randomBytes(8).toString('hex')}`
  await createPhoneNumber(db, cipher, { id, tenantId: tenant.id, wabaId, displayPhoneNumber: `+1 555 ${seq}`, mode: mps <= 20 && mps !== 5 ? 'coexistence' : 'cloud_api', throughputMps: mps, accessToken: token })
  sim.control.configureNumber({ phoneNumberId: id, wabaId, displayPhoneNumber: `1555${String(seq).padStart(7, '0')}`, mps, accessToken: token, window: 'off', statuses: { upTo: 'none' }, pairLimit: { enabled: true } })
  return id
}

// ---- the service process ----------------------------------------------------------------------

interface Service { proc: ChildProcess, base: string, stop: () => Promise<void> }

/** Service processes still running: killed if the bench ends early. */
const children = new Set<ChildProcess>()
process.on('exit', () => { for (const c of children) c.kill('SIGKILL') })

async function startService (prefix: string, roles: 'api' | 'worker' | 'all'): Promise<Service> {
  const port = await freePort()
  const prof = process.env.BENCH_PROFILE === roles ? ['--cpu-prof', '--cpu-prof-dir=/tmp/outbound-bench-prof'] : []
  // As the service's image runs it (infra/docker/outbound-sender.Dockerfile): heap sized for a
  // 256 MB container (Node sizes it from the machine's memory otherwise), few malloc arenas.
  const image = imageRuntime('outbound-sender')
  const heap = process.env.BENCH_NODE_ARGS === undefined ? image.nodeArgs : process.env.BENCH_NODE_ARGS.split(' ').filter((a) => a !== '')
  const counting = KAFKA_REQUESTS && roles === 'worker'
  const sampling = PROMOTED && roles === 'worker'
  const preload = [
    ...(counting ? ['--import', fileURLToPath(new URL('./kafka-requests.ts', import.meta.url))] : []),
    ...(sampling ? ['--import', fileURLToPath(new URL('./promoted-objects.ts', import.meta.url))] : [])
  ]
  const proc = spawn(process.execPath, [...heap, ...prof, ...preload, main], {
    env: {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      DATABASE_URL: url,
      KAFKA_BROKERS: brokers,
      KAFKA_TOPIC_PREFIX: prefix,
      META_GRAPH_URL: sim.graphUrl,
      META_GRAPH_VERSION: sim.graphVersion,
      COEXIST_ENCRYPTION_KEY: keyBytes.toString('base64'),
      COEXIST_ADMIN_KEY: ADMIN_KEY,
      LOG_LEVEL: 'warn',
      MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX ?? image.env.MALLOC_ARENA_MAX ?? '2',
      ...(process.env.BENCH_TRACE_WARNINGS === '1' ? { NODE_OPTIONS: '--trace-warnings' } : {}),
      OUTBOUND_ROLES: roles,
      ...(counting ? { BENCH_KAFKA_REQUESTS_FILE: KAFKA_REQUESTS_FILE } : {}),
      ...(sampling ? { BENCH_PROMOTED_FILE: PROMOTED_FILE } : {}),
      OUTBOUND_GROUP_ID: `bench-${prefix}`,
      // Only our own sends: no inbound traffic in this run.
      OUTBOUND_COUNT_INBOUND: 'false',
      OUTBOUND_COUNT_ECHOES: 'false'
    },
    stdio: ['ignore', 'inherit', 'inherit']
  })
  children.add(proc)
  proc.once('exit', () => children.delete(proc))
  const base = `http://127.0.0.1:${port}`
  const deadline = Date.now() + 60_000
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`service exited with ${proc.exitCode}`)
    try { if ((await fetch(`${base}/health/ready`)).ok) break } catch { /* not up yet */ }
    if (Date.now() > deadline) throw new Error('service not ready in 60 s')
    await sleep(100)
  }
  return {
    proc,
    base,
    stop: async () => {
      if (proc.exitCode !== null) return
      const exited = new Promise((resolve) => proc.once('exit', resolve))
      proc.kill('SIGTERM')
      await Promise.race([exited, sleep(30_000)])
      if (proc.exitCode === null) proc.kill('SIGKILL')
    }
  }
}

/** CPU seconds (user + system) and peak RSS (MB) of a process, from /proc. */
function procStats (pid: number): { cpuSeconds: number, peakRssMb: number, rssMb: number } {
  const mem = processRssMiB(pid)
  return { cpuSeconds: processCpuMs(pid) / 1000, peakRssMb: mem.peak, rssMb: mem.rss }
}

/** The worker's Kafka request counts so far (BENCH_KAFKA_REQUESTS=1; see kafka-requests.ts). */
async function kafkaRequests (proc: ChildProcess, seen: number): Promise<KafkaRequestCounts> {
  proc.kill('SIGUSR2')
  for (let i = 0; i < 100; i++) {
    await sleep(50)
    try {
      const c = JSON.parse(readFileSync(KAFKA_REQUESTS_FILE, 'utf8')) as KafkaRequestCounts
      if (c.seq > seen) return c
    } catch { /* not written yet */ }
  }
  throw new Error('the worker wrote no Kafka request counts')
}

/** A quantile (upper bucket bound, ms) of a Prometheus histogram in exposition text. */
function histogramQuantile (text: string, name: string, q: number): string {
  const buckets = [...text.matchAll(new RegExp(`^${name}_bucket\\{le="([^"]+)"\\} (\\d+)`, 'gm'))].map((m) => [m[1] === '+Inf' ? Infinity : Number(m[1]), Number(m[2])] as const)
  const total = buckets.at(-1)?.[1] ?? 0
  const hit = buckets.find(([, c]) => c >= q * total)
  return hit === undefined || total === 0 ? 'n/a' : hit[0] === Infinity ? '> max bucket' : `≤ ${hit[0] * 1000}`
}

/** Batches POSTed so far, and the retries they took (503 OUT_NOT_DURABLE: a Kafka hiccup; see accept-batch.ts). */
const accepts = { batches: 0, retries: 0 }

/** Accepts `messages` through the batch API, retried with the same Idempotency-Key until every item is durable. */
async function accept (svc: Service, messages: unknown[]): Promise<void> {
  accepts.retries += await acceptBatch({ base: svc.base, apiKey, messages, idempotencyKey: `bench-${++accepts.batches}` })
}

const template = (phoneNumberId: string, i: number): unknown => ({
  phone_number_id: phoneNumberId, to: `+55119${String(i).padStart(8, '0')}`, type: 'template', template: { name: 'order_update', language: { code: 'pt_BR' } }
})

/** Accepts `count` templates for a number through the batch API (distinct recipients). */
async function enqueue (svc: Service, phoneNumberId: string, count: number, offset: number): Promise<void> {
  for (let done = 0; done < count; done += 500) {
    const n = Math.min(500, count - done)
    await accept(svc, Array.from({ length: n }, (_, i) => template(phoneNumberId, offset + done + i)))
  }
}

// ---- 0. broker warm-up -------------------------------------------------------------------------

/** BROKER_WARMUP_SECONDS of single-record produce requests and their fetches (see BROKER_WARMUP_SECONDS). */
async function warmUpBroker (): Promise<void> {
  if (BROKER_WARMUP_SECONDS <= 0) { console.log('broker warm-up: none (BENCH_BROKER_WARMUP_SECONDS=0)'); return }
  const jit0 = threadsCpuSeconds(brokerPid, BROKER_JIT_THREADS)
  const prefix = `benchwarm${randomBytes(3).toString('hex')}.`
  const kafka = createKafka({ brokers: brokers.split(','), clientId: 'outbound-bench-warmup', logger })
  const registry = createTopicRegistry({ prefix })
  const admin = kafka.admin()
  await admin.connect()
  await ensureTopics(admin, registry, { only: [registry.topic('outbound.results')] })
  await admin.disconnect()
  const producers = Array.from({ length: 4 }, () => createBusProducer({ kafka, registry, logger, lingerMs: 0 }))
  let read = 0
  const consumer = createBusConsumer({ kafka, registry, producer: producers[0]!, logger, groupId: `${prefix}warmup`, handlers: { 'outbound.results': { ordering: 'none', maxConcurrency: 10_000, handle: () => { read++ } } } })
  await consumer.start()
  const started = performance.now()
  let published = 0
  await Promise.all(producers.map(async (producer) => {
    while (performance.now() - started < BROKER_WARMUP_SECONDS * 1000) {
      const n = published++
      const phoneNumberId = `62${String(8_000_000_000_000 + n % 500)}`
      await producer.publish('outbound.results', { key: phoneNumberId, value: { requestId: `warm-${n}`, tenantId: tenant.id, phoneNumberId, wamid: `wamid.warm${n}`, attempts: 1 } })
    }
  }))
  // `read` moves in the consumer's handler meanwhile.
  // eslint-disable-next-line no-unmodified-loop-condition
  while (read < published && performance.now() - started < (BROKER_WARMUP_SECONDS + 60) * 1000) await sleep(100)
  await consumer.stop()
  await Promise.all(producers.map((p) => p.disconnect()))
  console.log(`broker warm-up: ${published} results published one per produce request and read back in ${((performance.now() - started) / 1000).toFixed(1)} s on topics ${prefix}* (not counted; broker JIT compiler threads meanwhile ${(threadsCpuSeconds(brokerPid, BROKER_JIT_THREADS) - jit0).toFixed(1)} CPU-s; BENCH_BROKER_WARMUP_SECONDS=0 skips it)`)
}

// ---- 1. mixed run ---------------------------------------------------------------------------

async function mixedRun (): Promise<void> {
  console.log(`outbound bench: ${CLASSES.reduce((s, c) => s + c.numbers, 0)} numbers (${CLASSES.map((c) => `${c.numbers} at ${c.mps} MPS`).join(', ')}), backlog = ${SECONDS} s of each limit`)
  const numbers: Array<{ id: string, mps: number, backlog: number }> = []
  for (const c of CLASSES) for (let i = 0; i < c.numbers; i++) numbers.push({ id: await addNumber(c.mps), mps: c.mps, backlog: c.mps * SECONDS })
  const total = numbers.reduce((s, n) => s + n.backlog, 0)

  await warmUpBroker()
  const prefix1 = `bench${randomBytes(3).toString('hex')}.`
  const api = await startService(prefix1, 'api')
  let t0 = performance.now()
  // The backlog as if it had built up over SECONDS: second by second, each number its limit's worth,
  // so every partition holds all of its numbers' traffic interleaved in time.
  const items: Array<{ id: string, i: number }> = []
  for (let sec = 0; sec < SECONDS; sec++) for (const n of numbers) for (let k = 0; k < n.mps; k++) items.push({ id: n.id, i: sec * n.mps + k })
  let next = 0
  await Promise.all(Array.from({ length: 4 }, async () => {
    for (;;) {
      const chunk = items.slice(next, next + 500)
      next += 500
      if (chunk.length === 0) return
      await accept(api, chunk.map((x) => template(x.id, x.i)))
    }
  }))
  const acceptSeconds = (performance.now() - t0) / 1000
  await api.stop()
  console.log(`accepted ${total} requests through the batch API in ${acceptSeconds.toFixed(1)} s (${Math.round(total / acceptSeconds)} per s; ${accepts.retries} batch retries after a 503)`)

  const sinceSeq = sim.control.sends({ withoutBodies: true }).lastSeq
  /** Transactions and rows of this database so far, and reads per table and index (Postgres's statistics, flushed within about a second). */
  const dbStats = async (): Promise<Map<string, number>> => {
    const m = new Map<string, number>()
    const d = await sql<{ x: string, u: string, r: string }>`SELECT xact_commit + xact_rollback AS x, tup_updated AS u, tup_returned AS r FROM pg_stat_database WHERE datname = current_database()`.execute(db)
    m.set('transactions', Number(d.rows[0]?.x ?? 0)); m.set('rows updated', Number(d.rows[0]?.u ?? 0)); m.set('rows returned', Number(d.rows[0]?.r ?? 0))
    const t = await sql<{ n: string, s: string, r: string, u: string, h: string }>`SELECT relname AS n, seq_scan AS s, seq_tup_read AS r, n_tup_upd AS u, n_tup_hot_upd AS h FROM pg_stat_user_tables`.execute(db)
    for (const row of t.rows) {
      m.set(`${row.n} seq scans`, Number(row.s)); m.set(`${row.n} seq rows read`, Number(row.r))
      // Updates, and those that were HOT (no index entry written: no indexed column changed, room on the page).
      m.set(`${row.n} rows updated`, Number(row.u)); m.set(`${row.n} HOT updates`, Number(row.h))
    }
    const i = await sql<{ n: string, s: string, r: string }>`SELECT indexrelname AS n, idx_scan AS s, idx_tup_read AS r FROM pg_stat_user_indexes`.execute(db)
    for (const row of i.rows) { m.set(`${row.n} scans`, Number(row.s)); m.set(`${row.n} entries read`, Number(row.r)) }
    return m
  }
  const db0 = await dbStats()
  if (process.env.BENCH_EXPLAIN_MS !== undefined) {
    const name = (await sql<{ d: string }>`SELECT current_database() AS d`.execute(db)).rows[0]?.d as string
    await sql.raw(`ALTER DATABASE "${name}" SET session_preload_libraries = 'auto_explain'`).execute(db)
    await sql.raw(`ALTER DATABASE "${name}" SET auto_explain.log_min_duration = ${Number(process.env.BENCH_EXPLAIN_MS)}`).execute(db)
    await sql.raw(`ALTER DATABASE "${name}" SET auto_explain.log_analyze = on`).execute(db)
  }
  const worker = await startService(prefix1, 'worker')
  const requests0 = KAFKA_REQUESTS ? await kafkaRequests(worker.proc, 0) : undefined
  const cpu0 = procStats(worker.proc.pid as number).cpuSeconds
  const machine0 = cpuSnapshot()
  const broker0 = [BROKER_JIT_THREADS, BROKER_GC_THREADS, BROKER_REQUEST_THREADS].map((re) => threadsCpuSeconds(brokerPid, re))
  const simCpu0 = process.cpuUsage()
  let peakRss = 0
  t0 = performance.now()
  const deadline = Date.now() + 150_000
  let polled = sinceSeq
  const slotLooks: Array<{ reserved: number, inFlight: number, waiting: number, lagP99: number, lagMax: number }> = []
  let sent = 0
  for (;;) {
    const s = procStats(worker.proc.pid as number)
    peakRss = Math.max(peakRss, s.peakRssMb)
    // Only what arrived since the last look: the simulator shares this process's event loop.
    const r = sim.control.sends({ since: polled, withoutBodies: true })
    sent += r.accepted.length
    polled = r.lastSeq
    if (sent >= total || Date.now() > deadline) break
    if (process.env.BENCH_VERBOSE === '1' && sent > 0) {
    // The worker's in-flight slots (gauges it refreshes every 250 ms): is the cap what waits?
      const text = await (await fetch(`${worker.base}/metrics`)).text()
      const slot = (what: string): number => Number(new RegExp(`^coexist_outbound_slots\\{what="${what}"\\} ([0-9.e+]+)`, 'm').exec(text)?.[1] ?? NaN)
      const lag = (q: string): number => Number(new RegExp(`^nodejs_eventloop_lag_${q}_seconds ([0-9.e+]+)`, 'm').exec(text)?.[1] ?? NaN) * 1000
      slotLooks.push({ reserved: slot('reserved'), inFlight: slot('in_flight'), waiting: slot('lanes_waiting'), lagP99: lag('p99'), lagMax: lag('max') })
    }
    await sleep(500)
  }
  const metricsText = await (await fetch(`${worker.base}/metrics`)).text()
  const gauge = (name: string): number => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+]+)`, 'm').exec(metricsText)?.[1] ?? NaN)
  if (process.env.BENCH_VERBOSE === '1') {
  // GC of the worker's process (prom-client's default metrics).
    const gc = [...metricsText.matchAll(/^nodejs_gc_duration_seconds_(sum|count)\{kind="([^"]+)"\} ([0-9.e+]+)/gm)].map((m) => `${m[2]} ${m[1]} ${Number(m[3]).toFixed(m[1] === 'sum' ? 2 : 0)}`)
    console.log(`worker GC since it started (s, count): ${gc.join(', ')}`)
    console.log(`worker at the end: heap used ${(gauge('nodejs_heap_size_used_bytes') / 1e6).toFixed(0)} MB, heap total ${(gauge('nodejs_heap_size_total_bytes') / 1e6).toFixed(0)} MB, external ${(gauge('nodejs_external_memory_bytes') / 1e6).toFixed(0)} MB, rss ${(gauge('process_resident_memory_bytes') / 1e6).toFixed(0)} MB`)
  }
  const cpu1 = procStats(worker.proc.pid as number)
  const machine1 = cpuSnapshot()
  const machine1Ms = performance.now()
  const broker1 = [BROKER_JIT_THREADS, BROKER_GC_THREADS, BROKER_REQUEST_THREADS].map((re) => threadsCpuSeconds(brokerPid, re))
  const requests1 = requests0 === undefined ? undefined : await kafkaRequests(worker.proc, requests0.seq)
  const simCpu = process.cpuUsage(simCpu0)
  peakRss = Math.max(peakRss, cpu1.peakRssMb)
  await worker.stop()
  if (process.env.BENCH_VERBOSE === '1') {
    await sleep(1500)
    const db1 = await dbStats()
    console.log(`Postgres meanwhile: ${[...db1].map(([k, v]) => [k, v - (db0.get(k) ?? 0)] as const).filter(([, v]) => v > 0).map(([k, v]) => `${k} ${v}`).join(', ')}`)
  }

  if (slotLooks.length > 0) {
    const mean = (f: (l: typeof slotLooks[number]) => number): string => (slotLooks.reduce((s, l) => s + f(l), 0) / slotLooks.length).toFixed(0)
    const cap = Number(process.env.OUTBOUND_MAX_IN_FLIGHT ?? 1024)
    console.log(`worker in-flight slots while sending (${slotLooks.length} looks): reserved ${mean((l) => l.reserved)} of ${cap} on average (all taken in ${Math.round(100 * slotLooks.filter((l) => l.reserved >= cap).length / slotLooks.length)} % of looks), sends in flight ${mean((l) => l.inFlight)}, lanes waiting for a slot ${mean((l) => l.waiting)}; event loop delay per look (each since the last): p99 ${mean((l) => l.lagP99)} ms on average, max ${Math.max(...slotLooks.map((l) => l.lagMax)).toFixed(0)} ms`)
  }
  const report = sim.control.sends({ since: sinceSeq, withoutBodies: true })
  const byNumber = new Map<string, number[]>()
  for (const a of report.accepted as Array<{ phoneNumberId: string, at: number }>) { const l = byNumber.get(a.phoneNumberId) ?? []; l.push(a.at); byNumber.set(a.phoneNumberId, l) }
  const firstAt = Math.min(...report.accepted.map((a) => a.at))
  const lastAt = Math.max(...report.accepted.map((a) => a.at))
  for (const c of CLASSES) {
    const ids = numbers.filter((n) => n.mps === c.mps).map((n) => n.id)
    const rates: number[] = []
    let peak = 0
    let slowest: string | undefined
    let lowest = Infinity
    for (const id of ids) {
      const times = (byNumber.get(id) ?? []).sort((a, b) => a - b)
      if (times.length > 1) {
        const rate = (times.length - 1) / (((times[times.length - 1] as number) - (times[0] as number)) / 1000)
        if (rate < lowest) { lowest = rate; slowest = id }
        rates.push(rate)
      }
      peak = Math.max(peak, maxCountInWindow(times, 1000))
    }
    const throttled = report.rejected.filter((r) => r.code === 130429 && ids.includes(r.phoneNumberId)).length
    if (process.env.BENCH_VERBOSE === '1') {
      // Per second of the run: sends of this class's first and slowest numbers (where the time went).
      const perSecond = (id: string | undefined): string => {
        const counts: number[] = []
        for (const x of byNumber.get(id as string) ?? []) { const i = Math.floor((x - firstAt) / 1000); counts[i] = (counts[i] ?? 0) + 1 }
        return Array.from(counts, (v) => v ?? 0).join(' ')
      }
      console.log(`${c.mps} MPS first number, sends per second of the run: ${perSecond(ids[0])}`)
      console.log(`${c.mps} MPS slowest number, sends per second of the run: ${perSecond(slowest)}`)
    }
    const mean = rates.reduce((s, r) => s + r, 0) / Math.max(1, rates.length)
    console.log(`${c.mps} MPS (${ids.length} numbers): achieved rate / limit ${pct(mean / c.mps)} (lowest number ${pct(lowest / c.mps)})`)
    console.log(`${c.mps} MPS: highest count in any 1 s window / limit ${pct(peak / c.mps)}`)
    console.log(`${c.mps} MPS: 130429 received ${throttled}`)
  }
  const sendSeconds = (lastAt - firstAt) / 1000
  const cpuSeconds = cpu1.cpuSeconds - cpu0
  console.log(`sent ${report.accepted.length} of ${total} in ${sendSeconds.toFixed(1)} s`)
  console.log(`total sends/s ${Math.round(report.accepted.length / sendSeconds)}`)
  console.log(`sends per CPU-second of the worker ${Math.round(report.accepted.length / cpuSeconds)} (${cpuSeconds.toFixed(1)} CPU-s)`)
  console.log(`worker peak RSS ${peakRss.toFixed(0)} MB`)
  for (const [name, what] of [['coexist_outbound_claim_seconds', 'claim transaction'], ['coexist_outbound_graph_seconds', 'Cloud API call']] as const) {
    console.log(`worker ${what} p50 ${histogramQuantile(metricsText, name, 0.5)} ms, p99 ${histogramQuantile(metricsText, name, 0.99)} ms, mean ${(1000 * gauge(`${name}_sum`) / gauge(`${name}_count`)).toFixed(1)} ms`)
  }
  // Postgres statements the worker issued (its counter, by kind), per send.
  const statements = [...metricsText.matchAll(/^coexist_outbound_db_statements_total\{kind="([^"]+)"\} ([0-9.e+]+)/gm)].map((m) => [m[1] as string, Number(m[2])] as const)
  const statementCount = statements.reduce((s, [, n]) => s + n, 0)
  console.log(`worker Postgres statements per send ${(statementCount / Math.max(1, report.accepted.length)).toFixed(3)} (${statements.map(([k, n]) => `${k} ${n}`).join(', ')})`)
  console.log(`simulator (this process) CPU-s meanwhile ${((simCpu.user + simCpu.system) / 1e6).toFixed(1)}`)
  {
  // The machine meanwhile (2 cores): worker, this process (simulator), Postgres, the broker, the rest.
    const byRole = cpuByRole(machine0, machine1, { worker: [worker.proc.pid ?? -1], simulator: [process.pid] }).byRole
    const byWhat = new Map([['worker', byRole.get('worker')], ['simulator', byRole.get('simulator')], ['Postgres', byRole.get('postgres')], ['Kafka', byRole.get('kafka')], ['other', byRole.get('other')]])
    const seconds = (machine1Ms - t0) / 1000
    const perSend = (k: string): number => Math.round((byWhat.get(k) ?? 0) * 1e6 / Math.max(1, report.accepted.length))
    console.log(`machine CPU while sending, cores: ${['worker', 'simulator', 'Postgres', 'Kafka', 'other'].map((k) => `${k} ${((byWhat.get(k) ?? 0) / seconds).toFixed(2)}`).join(', ')}; µs per send: ${['worker', 'simulator', 'Postgres', 'Kafka'].map((k) => `${k} ${perSend(k)}`).join(', ')}`)
    // A fresh broker JVM compiles Kafka's hot paths for its first minute or so (C1/C2 threads):
    // a long-running broker has done that long ago, so this part is not the sender's cost.
    const [jit, gc, req] = broker1.map((x, i) => x - broker0[i]!) as [number, number, number]
    if (Number.isFinite(jit)) {
      const all = byWhat.get('Kafka') ?? 0
      const part = (x: number): string => `${x.toFixed(1)} CPU-s, ${Math.round(x * 1e6 / Math.max(1, report.accepted.length))} µs per send, ${pct(x / Math.max(1e-9, all))}`
      console.log(`Kafka broker while sending: JIT compiler threads ${part(jit)}; G1 GC threads ${part(gc)}; request handler and network threads ${part(req)}; its other threads ${part(all - jit - gc - req)}`)
    }
    if (requests0 !== undefined && requests1 !== undefined) {
      const rows = Object.entries(requests1.requests).map(([k, n]) => [k, n - (requests0.requests[k] ?? 0)] as const).filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1])
      const all = rows.reduce((s, [, n]) => s + n, 0)
      console.log(`worker Kafka requests while sending: ${all} (${(all / seconds).toFixed(0)}/s, ${(all / Math.max(1, report.accepted.length)).toFixed(3)} per send): ${rows.map(([k, n]) => `${k} ${n} (${(n / seconds).toFixed(1)}/s)`).join(', ')}`)
      const batches = requests1.batches - requests0.batches
      const records = requests1.records - requests0.records
      console.log(`worker producer batches while sending: ${batches} (${(batches / seconds).toFixed(1)}/s) of ${(records / Math.max(1, batches)).toFixed(1)} records on average`)
    }
  }
  console.log(`other rejections ${report.rejected.filter((r) => r.code !== 130429).length}`)
  if (PROMOTED) {
    let data: { seconds: number, profile: SamplingProfile } | undefined
    try { data = JSON.parse(readFileSync(PROMOTED_FILE, 'utf8')) as typeof data } catch { /* the worker finished before the window ended */ }
    for (const line of data === undefined ? ['worker objects promoted: no profile (the worker stopped before the window ended)'] : summarizePromoted(data)) console.log(line)
  }
}

// ---- 2. neighbour -----------------------------------------------------------------------------

let trickleSeq = 0

/** p99 delay (ms) from 202 to arrival at Meta of a trickle to `ids`, `perSecond` each for `seconds`. */
async function trickle (svc: Service, ids: string[], perSecond: number, seconds: number): Promise<number[]> {
  const accepted = new Map<string, number>()
  const start = sim.control.sends({ withoutBodies: true }).lastSeq
  const ticks = perSecond * seconds
  for (let k = 0; k < ticks; k++) {
    const tickAt = performance.now()
    // One message per number, in one batch request: 20 requests a second stay within the API's
    // rate limit (6,000 a minute per key), where one request per message (160 a second) did not.
    const tos = ids.map(() => `+55118${String(++trickleSeq).padStart(8, '0')}`) // a new recipient each (no pair limit)
    await accept(svc, ids.map((id, j) => ({ ...(template(id, 0) as object), to: tos[j] })))
    const at = performance.timeOrigin + performance.now()
    ids.forEach((id, j) => { accepted.set(`${id}|${(tos[j] as string).replace(/\D/g, '')}`, at) })
    await sleep(Math.max(0, 1000 / perSecond - (performance.now() - tickAt)))
  }
  await sleep(2000)
  const delays: number[] = []
  for (const a of sim.control.sends({ since: start, withoutBodies: true }).accepted) {
    const at = accepted.get(`${a.phoneNumberId}|${a.waId}`)
    if (at !== undefined) delays.push(a.at - at)
  }
  return delays
}

async function singlePartitionPrefix (): Promise<string> {
  const prefix = `bench${randomBytes(3).toString('hex')}.`
  const kafka = createKafka({ brokers: brokers.split(','), clientId: 'outbound-bench', logger })
  const admin = kafka.admin()
  await admin.connect()
  await ensureTopics(admin, createTopicRegistry({ prefix, partitions: 1 }))
  await admin.disconnect()
  return prefix
}

async function neighbourRun (): Promise<void> {
  const unloaded: string[] = []
  for (let i = 0; i < TRICKLE_NUMBERS; i++) unloaded.push(await addNumber(80))
  const neighbour = await addNumber(5)

  let svc = await startService(await singlePartitionPrefix(), 'all')
  await sleep(3000)
  await trickle(svc, unloaded, TRICKLE_RATE, WARMUP_SECONDS)
  const alone = await trickle(svc, unloaded, TRICKLE_RATE, TRICKLE_SECONDS)
  await svc.stop()

  svc = await startService(await singlePartitionPrefix(), 'all')
  await enqueue(svc, neighbour, NEIGHBOUR_BACKLOG, 0)
  await sleep(3000)
  await trickle(svc, unloaded, TRICKLE_RATE, WARMUP_SECONDS)
  const behind = await trickle(svc, unloaded, TRICKLE_RATE, TRICKLE_SECONDS)
  const neighbourSent = sim.control.sends({ phoneNumberId: neighbour, withoutBodies: true }).accepted.length
  await svc.stop()

  const p99Alone = quantile(alone, 0.99)
  const p99Behind = quantile(behind, 0.99)
  console.log(`unloaded 80-MPS numbers, p99 queueing delay alone ${p99Alone.toFixed(1)} ms (p50 ${quantile(alone, 0.5).toFixed(1)} ms, ${alone.length} messages)`)
  console.log(`unloaded 80-MPS numbers, p99 queueing delay beside a ${NEIGHBOUR_BACKLOG}-message backlog in the same partition ${p99Behind.toFixed(1)} ms (p50 ${quantile(behind, 0.5).toFixed(1)} ms, ${behind.length} messages; neighbour sent ${neighbourSent} at 5 MPS meanwhile)`)
  console.log(`p99 queueing delay ratio (with / without neighbour backlog) ${(p99Behind / p99Alone).toFixed(2)}`)
  console.log(`batch retries after a 503 (the whole run) ${accepts.retries}`)
}

if (PHASES.includes('mixed')) await mixedRun()
if (PHASES.includes('neighbour')) await neighbourRun()

await sim.close()
await db.destroy()
process.exit(0)
