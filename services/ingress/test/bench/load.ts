/**
 * Support for tests/bench/ingress.bench.ts: the webhook bodies, load generation through autocannon
 * (a devDependency of this service, so it resolves from here) and record counts on Kafka. Not a
 * test file: tap only runs `*.test.ts`.
 */
import { Agent, request } from 'node:http'
import autocannon from 'autocannon'
import { createKafka, createTopicRegistry, type TopicKey } from '@coexist/bus'
import { createLogger } from '@coexist/logger'
import { serializeLikeMeta, signBody } from '@coexist/meta'
import { batchBodies, echoWebhook, inboundTextWebhook, pricing, statusWebhook } from '@coexist/meta/fixtures'

export interface LoadRequest {
  body: Buffer
  headers: Record<string, string>
}

export interface LoadOptions {
  /** Base URL, e.g. `http://127.0.0.1:8080`. */
  url: string
  path: string
  /** Cycled through by every connection. */
  requests: readonly LoadRequest[]
  connections: number
  durationSec: number
  /** Requests per second across all connections; absent: as fast as the server answers. */
  overallRate?: number
  /**
   * Called when the load starts. autocannon first builds every connection's copy of the request
   * buffers (seconds with 100 connections × 2,000 bodies, the server idle meanwhile); a
   * measurement window that should hold only the load starts here, not when runLoad is called.
   */
  onStart?: () => void
}

export interface LoadResult {
  /** Mean requests per second over the run. */
  requestsPerSec: number
  /** Latencies in milliseconds. */
  p50: number
  p99: number
  max: number
  total: number
  non2xx: number
  errors: number
  timeouts: number
}

/** Runs one autocannon load; resolves with its figures. */
export async function runLoad (o: LoadOptions): Promise<LoadResult> {
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const tracker = autocannon({
      url: o.url,
      connections: o.connections,
      duration: o.durationSec,
      ...(o.overallRate !== undefined ? { overallRate: o.overallRate } : {}),
      requests: o.requests.map((r) => ({ method: 'POST' as const, path: o.path, headers: r.headers, body: r.body }))
    }, (err, r) => { if (err !== null && err !== undefined) reject(err); else resolve(r) })
    if (o.onStart !== undefined) tracker.once('start', o.onStart)
  })
  return {
    requestsPerSec: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    max: result.latency.max,
    total: result.requests.total,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts
  }
}

/**
 * `count` realistic signed POST bodies of 1–3 KB, each with 3–6 changes (inbound texts with
 * non-ASCII text, statuses with pricing, app echoes) over 40 numbers, encoded as Meta does.
 */
export function webhookBodies (appSecret: string, count: number): LoadRequest[] {
  const out: LoadRequest[] = []
  for (let i = 0; out.length < count; i++) {
    const phoneNumberId = `62000000000${String(i % 40).padStart(4, '0')}`
    const parts = []
    const n = 3 + (i % 4)
    for (let j = 0; j < n; j++) {
      const wamid = `wamid.HBgNNTUxMTk4ODg4Nzc3NxUCABIYFjNFQj${i}_${j}`
      const k = (i + j) % 3
      if (k === 0) parts.push(inboundTextWebhook({ wamid, phoneNumberId, profileName: 'Ana Lima', body: `Olá! Pedido ${i}/${j}: ainda está disponível? 😊` }))
      else if (k === 1) parts.push(statusWebhook({ wamid, phoneNumberId, status: j % 2 === 0 ? 'delivered' : 'read', pricing: pricing('utility', 'regular') }))
      else parts.push(echoWebhook({ wamid, phoneNumberId }))
    }
    const body = Buffer.from(serializeLikeMeta(batchBodies(...parts)))
    if (body.length < 1024 || body.length > 3072) continue
    out.push({ body, headers: { 'content-type': 'application/json', 'x-hub-signature-256': signBody(body, appSecret) } })
  }
  return out
}

/** Records on each of the given topics of a prefix (sum of partition end offsets). */
export async function countRecords (brokers: string[], prefix: string, keys: TopicKey[]): Promise<Record<string, number>> {
  const kafka = createKafka({ brokers, clientId: 'ingress-bench', logger: createLogger({ level: 'silent' }) })
  const admin = kafka.admin()
  await admin.connect()
  try {
    const registry = createTopicRegistry({ prefix })
    const out: Record<string, number> = {}
    for (const k of keys) out[k] = (await admin.fetchTopicOffsets(registry.topic(k).name)).reduce((s, p) => s + Number(p.high), 0)
    return out
  } finally {
    await admin.disconnect()
  }
}

export interface PacedOptions {
  url: string
  path: string
  requests: readonly LoadRequest[]
  /** Requests per second, sent on schedule whatever the answers (open loop). */
  rate: number
  durationSec: number
  /** Most sockets open at once. Default 256. */
  maxSockets?: number
}

/**
 * An open-loop load at a constant rate: request i is due at start + i/rate and sent then (or as
 * soon as the event loop allows), whether or not earlier ones were answered; its latency runs
 * from when it was due, so a stalled server cannot hide its queue (no coordinated omission).
 * Used for the latency at a fixed rate, where autocannon's rate mode sends in bursts.
 */
export async function runPaced (o: PacedOptions): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: o.maxSockets ?? 256 })
  const target = new URL(o.path, o.url)
  const total = Math.round(o.rate * o.durationSec)
  const latencies: number[] = []
  let non2xx = 0
  let errors = 0
  const start = performance.now()
  const inFlight: Promise<void>[] = []
  const send = (i: number, due: number): Promise<void> => new Promise((resolve) => {
    const r = o.requests[i % o.requests.length]!
    const req = request(target, { method: 'POST', agent, headers: { ...r.headers, 'content-length': String(r.body.length) } }, (res) => {
      res.resume()
      res.on('end', () => {
        latencies.push(performance.now() - due)
        if (res.statusCode === undefined || res.statusCode < 200 || res.statusCode > 299) non2xx++
        resolve()
      })
    })
    req.on('error', () => { errors++; resolve() })
    req.end(r.body)
  })
  const dueAt = (i: number): number => start + (i * 1000) / o.rate
  for (let i = 0; i < total;) {
    // Send everything due by now, then sleep until the next one is due (timers fire ≥ 1 ms late
    // at worst; that lateness is counted in the latency, as it would be for a real client).
    const now = performance.now()
    while (i < total && dueAt(i) <= now) { inFlight.push(send(i, dueAt(i))); i++ }
    if (i < total) await new Promise((resolve) => setTimeout(resolve, Math.max(0, dueAt(i) - performance.now())))
  }
  await Promise.all(inFlight)
  const elapsed = (performance.now() - start) / 1000
  agent.destroy()
  latencies.sort((a, b) => a - b)
  const q = (p: number): number => latencies.length === 0 ? NaN : latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]!
  return { requestsPerSec: latencies.length / elapsed, p50: q(0.5), p99: q(0.99), max: latencies.at(-1) ?? NaN, total, non2xx, errors, timeouts: 0 }
}
