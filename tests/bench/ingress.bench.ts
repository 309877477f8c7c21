/**
 * `pnpm bench ingress`: signed webhooks (1–3 KB bodies, several changes each) through ingress
 * with a real Kafka and acks=all, against a bare Fastify route that answers 200 with no work,
 * on the same machine. Each server runs in its own process (ingress's RSS and CPU are its own);
 * the load generators run here: autocannon (closed loop) for the maximum rate, and an open-loop
 * constant-rate sender for the latency at half that rate (autocannon's rate mode sends in bursts
 * and reports seconds of latency even for the bare route), then the same sender at the same rate
 * against the bare route: the latency the generator and the shared machine add by themselves.
 * Prints figures, asserts nothing.
 *
 * Ingress runs as its container image runs it: the NODE_OPTIONS, MALLOC_ARENA_MAX and CMD Node flags of
 * infra/docker/ingress.Dockerfile (heap sized for a 256 MB container, two malloc arenas); a short
 * run with Node's and glibc's defaults prints that RSS too.
 *
 * Environment (set by scripts/bench.ts): KAFKA_BROKERS, and COEXIST_BENCH_KAFKA_PID when it started the
 * broker (its CPU per webhook is printed: it shares the cores with ingress). Optional: BENCH_SECONDS (per run, 15),
 * BENCH_WARMUP_SECONDS (30), BENCH_CONNECTIONS (100), BENCH_INGRESS_NODE_FLAGS (extra flags for the measured ingress process),
 * BENCH_PACED_RATE (requests/s of the open-loop latency run; default half the measured maximum),
 * BENCH_INGRESS_STDOUT (a file that receives the measured ingress process's stdout, e.g. the
 * `--trace-gc` lines of BENCH_INGRESS_NODE_FLAGS="--trace-gc"; otherwise its stdout is discarded).
 * Also printed: ingress's main-thread CPU and the machine's idle share during the maximum run
 * (counted from when autocannon starts sending, not from its seconds of set-up; below ~5 % idle
 * the cores are the limit; above, ingress's one main thread and its wait for Kafka are), and the producer's group commit
 * (produce requests a second, records per request, their latency) from ingress's GET /metrics.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { closeSync, openSync } from 'node:fs'
import { createServer } from 'node:net'
import { availableParallelism, loadavg } from 'node:os'
import { fileURLToPath } from 'node:url'
import { imageRuntime } from '../../scripts/lib/image-runtime.ts'
import { BROKER_JIT_THREADS, machineTicks, processCpuMs, processRssMiB, threadsCpuSeconds } from '../../scripts/lib/machine-cpu.ts'
import { countRecords, runLoad, runPaced, webhookBodies, type LoadResult } from '../../services/ingress/test/bench/load.ts'

const root = fileURLToPath(new URL('../..', import.meta.url))
const ingressDir = fileURLToPath(new URL('../../services/ingress/', import.meta.url))
const ingressMain = fileURLToPath(new URL('../../services/ingress/src/main.ts', import.meta.url))
/** How the ingress image runs Node (infra/docker/ingress.Dockerfile), so the bench runs what ships. */
const image = imageRuntime('ingress')
const INGRESS_NODE_FLAGS = image.nodeArgs
const MALLOC_ARENA_MAX = image.env.MALLOC_ARENA_MAX ?? ''
/** Extra Node flags for the measured ingress process only (e.g. `--cpu-prof --cpu-prof-dir=/tmp/p`). */
const EXTRA_FLAGS = (process.env.BENCH_INGRESS_NODE_FLAGS ?? '').split(' ').filter((f) => f !== '')
/** Where the measured ingress process's stdout goes (`--trace-gc` writes there); discarded without it. */
const STDOUT_FILE = process.env.BENCH_INGRESS_STDOUT
const SECONDS = Number(process.env.BENCH_SECONDS ?? 15)
/**
 * Full-load warm-up of ingress before its measured runs. It warms the broker too: a fresh JVM
 * spends its first minute or so compiling Kafka's hot paths (C1/C2 threads on the same two cores,
 * up to half of the broker's CPU in a short run), which a running broker has long done.
 */
const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP_SECONDS ?? 30)
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 100)
const APP_ID = '100000000000001'
const APP_SECRET = randomBytes(16).toString('hex')
const BODIES = 2000
const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',')
const brokerPid = Number(process.env.COEXIST_BENCH_KAFKA_PID ?? NaN)
/**
 * The broker's CPU time so far, ms, in all and in its JIT compiler threads (a fresh JVM compiles
 * Kafka's hot paths for a minute or more, on the cores ingress uses); NaN when the bench did not start it.
 */
function brokerCpuMs (): { all: number, jit: number } {
  if (!Number.isInteger(brokerPid)) return { all: NaN, jit: NaN }
  return { all: processCpuMs(brokerPid), jit: 1000 * threadsCpuSeconds(brokerPid, BROKER_JIT_THREADS) }
}
const say = (line: string): void => { process.stdout.write(line + '\n') }

const freePort = (): Promise<number> => new Promise((resolve) => {
  const s = createServer().listen(0, '127.0.0.1', () => {
    const a = s.address()
    s.close(() => resolve(typeof a === 'object' && a !== null ? a.port : 0))
  })
})

async function waitFor (url: string, child: ChildProcess, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await fetch(url).then((r) => r.ok, () => false))) {
    if (child.exitCode !== null) throw new Error(`${url}: process exited (${child.exitCode})`)
    if (Date.now() > deadline) throw new Error(`${url} not ready in ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}

/** `stdout`: a file descriptor for the child's stdout (discarded without it). */
function launch (args: string[], env: NodeJS.ProcessEnv, cwd: string, stdout?: number): ChildProcess {
  // PATH only: nothing of this process's environment (NODE_OPTIONS, MALLOC_*) leaks in.
  return spawn(process.execPath, args, { cwd, env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', stdout ?? 'ignore', 'inherit'] })
}

async function stop (child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGTERM')
  await exited
}

/** A Fastify route that answers 200 with no work (the body is read as bytes, not parsed). */
const BARE_SERVER = `
import Fastify from 'fastify'
const app = Fastify({ logger: false, bodyLimit: 4 * 1024 * 1024 })
app.removeAllContentTypeParsers()
app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body))
app.post('/webhooks/meta', async (_req, reply) => reply.code(200).send())
app.get('/health/ready', async () => 'ok')
await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT) })
process.on('SIGTERM', () => { app.close().then(() => process.exit(0)) })
`

/** Sums and counts of ingress's producer histograms (GET /metrics), by series name and labels. */
async function metricTotals (url: string): Promise<Map<string, number>> {
  const out = new Map<string, number>()
  const text = await fetch(`${url}/metrics`).then((r) => r.text(), () => '')
  for (const l of text.split('\n')) {
    const m = /^((?:ingress_kafka_batch_records|ingress_kafka_batch_latency_seconds|ingress_publish_duration_seconds)_(?:sum|count)(?:\{[^}]*\})?) (\S+)$/.exec(l)
    if (m !== null) out.set(m[1]!, Number(m[2]))
  }
  return out
}

/**
 * The producer's group commit over a run: produce requests a second, records per request, a
 * request's time until acknowledged, and how long a webhook's records waited for it (the
 * broker's cost goes with its requests far more than with their records).
 */
function batchLine (a: Map<string, number>, b: Map<string, number>, seconds: number): string {
  const d = (k: string): number => (b.get(k) ?? 0) - (a.get(k) ?? 0)
  const batches = d('ingress_kafka_batch_records_count')
  const ok = '{outcome="ok"}'
  return `${fmt(batches / seconds)} batches/s of ${fmt(d('ingress_kafka_batch_records_sum') / batches, 1)} records, ` +
    `batch ${fmt(1000 * d(`ingress_kafka_batch_latency_seconds_sum${ok}`) / d(`ingress_kafka_batch_latency_seconds_count${ok}`), 2)} ms, ` +
    `publish wait ${fmt(1000 * d(`ingress_publish_duration_seconds_sum${ok}`) / d(`ingress_publish_duration_seconds_count${ok}`), 2)} ms per webhook`
}

const fmt = (n: number, d = 0): string => n.toFixed(d)
const line = (name: string, r: LoadResult): string =>
  `${name}: ${fmt(r.requestsPerSec)} req/s, p50 ${fmt(r.p50, 1)} ms, p99 ${fmt(r.p99, 1)} ms, ${r.total} requests, non-2xx ${r.non2xx}, errors ${r.errors + r.timeouts}`

const requests = webhookBodies(APP_SECRET, BODIES)
const sizes = requests.map((r) => r.body.length)
const changes = requests.map((r) => (r.body.toString().match(/"field":/g) ?? []).length)
say(`ingress bench: ${requests.length} distinct signed bodies, ${Math.min(...sizes)}–${Math.max(...sizes)} bytes (mean ${fmt(sizes.reduce((a, b) => a + b) / sizes.length)}), ${Math.min(...changes)}–${Math.max(...changes)} changes each`)
say(`ingress bench: ${CONNECTIONS} connections, ${SECONDS} s per run, Kafka ${brokers.join(',')} (acks=all, idempotent producer)`)
say(`ingress bench: load average at start ${loadavg().map((l) => l.toFixed(2)).join(' ')} on ${availableParallelism()} cores (the broker, both servers and the load generators share them)`)

// --- bare Fastify ---------------------------------------------------------------------------
/** Runs `fn` against a fresh bare Fastify process (its URL and pid), then stops it. */
async function withBare<T> (fn: (url: string, pid: number) => Promise<T>): Promise<T> {
  const port = await freePort()
  const bare = launch(['--input-type=module', '-e', BARE_SERVER], { PORT: String(port) }, ingressDir)
  const url = `http://127.0.0.1:${port}`
  try {
    await waitFor(`${url}/health/ready`, bare)
    return await fn(url, bare.pid ?? 0)
  } finally {
    await stop(bare)
  }
}
const { bareMax, bareCpu } = await withBare(async (url, pid) => {
  await runLoad({ url, path: '/webhooks/meta', requests, connections: CONNECTIONS, durationSec: 3 })
  const cpu0 = processCpuMs(pid)
  const r = await runLoad({ url, path: '/webhooks/meta', requests, connections: CONNECTIONS, durationSec: SECONDS })
  return { bareMax: r, bareCpu: processCpuMs(pid) - cpu0 }
})

// --- ingress --------------------------------------------------------------------------------
const ingressEnv = (port: number, prefix: string): NodeJS.ProcessEnv => ({
  PORT: String(port),
  HOST: '127.0.0.1',
  KAFKA_BROKERS: brokers.join(','),
  KAFKA_TOPIC_PREFIX: prefix,
  META_APP_SECRETS: `${APP_ID}:${APP_SECRET}`,
  META_VERIFY_TOKEN: randomBytes(8).toString('hex'),
  LOG_LEVEL: 'warn',
  INGRESS_DRAIN_MS: '0',
  // The image starts from a warmed compile cache (infra/docker/ingress.Dockerfile); so does the bench.
  ...(process.env.NODE_COMPILE_CACHE !== undefined ? { NODE_COMPILE_CACHE: process.env.NODE_COMPILE_CACHE } : {})
})
const path = `/webhooks/meta/${APP_ID}`
const prefix = `bench${randomBytes(3).toString('hex')}.`
const ingressPort = await freePort()
const ingressStdout = STDOUT_FILE !== undefined && STDOUT_FILE !== '' ? openSync(STDOUT_FILE, 'w') : undefined
const ingress = launch([...INGRESS_NODE_FLAGS, ...EXTRA_FLAGS, ingressMain], { ...ingressEnv(ingressPort, prefix), MALLOC_ARENA_MAX }, root, ingressStdout)
if (ingressStdout !== undefined) closeSync(ingressStdout) // the child holds its own copy
const ingressUrl = `http://127.0.0.1:${ingressPort}`
let exitCode = 0
try {
  await waitFor(`${ingressUrl}/health/ready`, ingress)
  const warm = await runLoad({ url: ingressUrl, path, requests, connections: CONNECTIONS, durationSec: WARMUP_SECONDS })
  const metrics0 = await metricTotals(ingressUrl)
  // Counters from when the load starts (autocannon's set-up first takes seconds with the server idle).
  let machine0 = machineTicks()
  let cpu0 = processCpuMs(ingress.pid ?? 0)
  let main0 = processCpuMs(ingress.pid ?? 0, ingress.pid)
  let broker0 = brokerCpuMs()
  let started = performance.now()
  const onStart = (): void => {
    machine0 = machineTicks(); cpu0 = processCpuMs(ingress.pid ?? 0); main0 = processCpuMs(ingress.pid ?? 0, ingress.pid); broker0 = brokerCpuMs(); started = performance.now()
  }
  const ingressMax = await runLoad({ url: ingressUrl, path, requests, connections: CONNECTIONS, durationSec: SECONDS, onStart })
  const elapsedMs = performance.now() - started
  const ingressCpu = processCpuMs(ingress.pid ?? 0) - cpu0
  const ingressMainCpu = processCpuMs(ingress.pid ?? 0, ingress.pid) - main0
  const broker1 = brokerCpuMs()
  const machine1 = machineTicks()
  const metrics1 = await metricTotals(ingressUrl)
  // BENCH_PACED_RATE: the open-loop run at a fixed rate instead (to compare latency across changes of the maximum).
  const halfRate = process.env.BENCH_PACED_RATE !== undefined ? Number(process.env.BENCH_PACED_RATE) : Math.max(1, Math.round(ingressMax.requestsPerSec / 2))
  const cpuHalf0 = processCpuMs(ingress.pid ?? 0)
  const brokerHalf0 = brokerCpuMs()
  const ingressHalf = await runPaced({ url: ingressUrl, path, requests, rate: halfRate, durationSec: SECONDS })
  const ingressCpuHalf = processCpuMs(ingress.pid ?? 0) - cpuHalf0
  const brokerHalf1 = brokerCpuMs()
  const metrics2 = await metricTotals(ingressUrl)
  const rss = processRssMiB(ingress.pid ?? 0).peak
  await stop(ingress)
  // The same open-loop run against the bare route: what the generator and the machine add to the latency.
  const bareHalf = await withBare(async (url) => {
    await runLoad({ url, path: '/webhooks/meta', requests, connections: CONNECTIONS, durationSec: 3 })
    return await runPaced({ url, path: '/webhooks/meta', requests, rate: halfRate, durationSec: SECONDS })
  })
  // What Kafka holds: one raw record per 200 answered (autocannon does not count the requests
  // still in flight when a run ends, so Kafka may hold a few more).
  const onKafka = await countRecords(brokers, prefix, ['webhook.raw', 'webhook.messages', 'webhook.smb_message_echoes'])
  const answered200 = [warm, ingressMax, ingressHalf].reduce((n, r) => n + r.total - r.non2xx, 0)

  // The same process with Node's default heap sizing, for its RSS.
  const defaultsPort = await freePort()
  const defaults = launch([ingressMain], ingressEnv(defaultsPort, `${prefix}d.`), root)
  let rssDefaults = NaN
  try {
    await waitFor(`http://127.0.0.1:${defaultsPort}/health/ready`, defaults)
    await runLoad({ url: `http://127.0.0.1:${defaultsPort}`, path, requests, connections: CONNECTIONS, durationSec: Math.min(SECONDS, 10) })
    rssDefaults = processRssMiB(defaults.pid ?? 0).peak
  } finally {
    await stop(defaults)
  }

  say(line('bare fastify (max)', bareMax))
  say(line('ingress (max)', ingressMax))
  say(line(`ingress (open loop at half load, ${halfRate} req/s)`, ingressHalf))
  say(line(`bare fastify (open loop at the same rate, ${halfRate} req/s)`, bareHalf))
  say(`bare fastify requests/s: ${fmt(bareMax.requestsPerSec)}`)
  say(`ingress requests/s: ${fmt(ingressMax.requestsPerSec)}`)
  say(`ingress / bare ratio: ${fmt(100 * ingressMax.requestsPerSec / bareMax.requestsPerSec, 1)} %`)
  say(`ingress p50 latency at half load: ${fmt(ingressHalf.p50, 1)} ms`)
  say(`ingress p99 latency at half load: ${fmt(ingressHalf.p99, 1)} ms (bare fastify at the same rate: ${fmt(bareHalf.p99, 1)} ms)`)
  say(`ingress peak RSS: ${fmt(rss, 1)} MiB (as its image runs it: node ${INGRESS_NODE_FLAGS.join(' ')}, MALLOC_ARENA_MAX=${MALLOC_ARENA_MAX})`)
  say(`ingress peak RSS with Node's and glibc's defaults: ${fmt(rssDefaults, 1)} MiB`)
  say(`bare fastify CPU per request: ${fmt(1000 * bareCpu / bareMax.total)} us`)
  say(`ingress CPU per request: ${fmt(1000 * ingressCpu / ingressMax.total)} us (at half load ${fmt(1000 * ingressCpuHalf / ingressHalf.total)} us)`)
  const perWebhook = (a: number, b: number, r: LoadResult): string => fmt(1000 * (b - a) / r.total)
  say(`kafka broker CPU per webhook: ${perWebhook(broker0.all, broker1.all, ingressMax)} us, of which JIT compiler threads ${perWebhook(broker0.jit, broker1.jit, ingressMax)} us (at half load ${perWebhook(brokerHalf0.all, brokerHalf1.all, ingressHalf)} / ${perWebhook(brokerHalf0.jit, brokerHalf1.jit, ingressHalf)} us)`)
  say(`ingress main thread during max: ${fmt(100 * ingressMainCpu / elapsedMs, 1)} % busy, ${fmt(1000 * ingressMainCpu / ingressMax.total)} us per webhook (its other threads, GC helpers mostly: ${fmt(1000 * (ingressCpu - ingressMainCpu) / ingressMax.total)} us)`)
  say(`machine idle during ingress (max): ${fmt(100 * (machine1.idle - machine0.idle) / (machine1.busy + machine1.idle - machine0.busy - machine0.idle), 1)} % of ${availableParallelism()} cores`)
  say(`ingress producer at max: ${batchLine(metrics0, metrics1, SECONDS)}`)
  say(`ingress producer at half load: ${batchLine(metrics1, metrics2, SECONDS)}`)
  say(`ingress 2xx answers: ${answered200}`)
  say(`kafka records: ${Object.entries(onKafka).map(([k, v]) => `${k} ${v}`).join(', ')}`)
} catch (err) {
  say(`ingress bench failed: ${(err as Error).stack ?? String(err)}`)
  exitCode = 1
} finally {
  await stop(ingress)
}
process.exit(exitCode)
