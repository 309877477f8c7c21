/** Test helpers: a real HTTP webhook receiver and a small Graph request helper. */
import { createHmac } from 'node:crypto'
import { createServer, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'
import { request } from 'undici'
import { createManualClock, startSimulator, type Clock, type ManualClock, type NumberConfigInput, type RunningSimulator } from '../src/index.ts'

export interface Teardown { teardown: (fn: () => unknown) => void }

export interface ReceivedWebhook {
  raw: Buffer
  headers: IncomingHttpHeaders
  json: any
}

export interface Receiver {
  url: string
  received: ReceivedWebhook[]
  /** Decides the status of each request (default 200). */
  respond: (fn: (n: number, w: ReceivedWebhook) => number) => void
  /** Waits until `count` requests arrived (fails after `ms`). */
  waitFor: (count: number, ms?: number) => Promise<ReceivedWebhook[]>
}

/** A webhook target that records raw bytes and headers. */
export async function startReceiver (t: Teardown): Promise<Receiver> {
  const received: ReceivedWebhook[] = []
  let decide = (_n: number, _w: ReceivedWebhook): number => 200
  let waiters: Array<() => void> = []
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const raw = Buffer.concat(chunks)
      let json: unknown
      try { json = JSON.parse(raw.toString('utf8')) } catch { json = undefined }
      const w = { raw, headers: req.headers, json }
      received.push(w)
      res.statusCode = decide(received.length, w)
      res.end()
      const ws = waiters
      waiters = []
      for (const f of ws) f()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => { resolve() }) }))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/webhooks/meta`,
    received,
    respond: (fn) => { decide = fn },
    waitFor: async (count, ms = 5000) => {
      const deadline = Date.now() + ms
      while (received.length < count) {
        if (Date.now() > deadline) throw new Error(`expected ${count} webhooks, got ${received.length}`)
        await new Promise<void>((resolve) => {
          waiters.push(resolve)
          setTimeout(resolve, 50)
        })
      }
      return received
    }
  }
}

/** Independent signature check (HMAC-SHA256 over the raw bytes). */
export function signatureOk (w: ReceivedWebhook, secret: string): boolean {
  return w.headers['x-hub-signature-256'] === 'sha256=' + createHmac('sha256', secret).update(w.raw).digest('hex')
}

export interface GraphResponse { status: number, body: any }

/** A Graph request to the simulator. */
export async function graph (baseUrl: string, method: 'GET' | 'POST' | 'DELETE', path: string, opts: { token?: string, body?: unknown, raw?: string } = {}): Promise<GraphResponse> {
  const headers: Record<string, string> = {}
  if (opts.token !== undefined) headers.authorization = `Bearer ${opts.token}`
  let body: string | undefined
  if (opts.raw !== undefined) { body = opts.raw; headers['content-type'] = 'application/json' } else if (opts.body !== undefined) { body = JSON.stringify(opts.body); headers['content-type'] = 'application/json' }
  const res = await request(`${baseUrl}${path}`, { method, headers, ...(body !== undefined ? { body } : {}) })
  const text = await res.body.text()
  let parsed: unknown = text
  try { parsed = JSON.parse(text) } catch {}
  return { status: res.statusCode, body: parsed }
}

export const PNID = '620000000000001'
export const WABA = '310000000000001'
const DISPLAY = '5511999990000'
export const TOKEN = 'sim-token-620000000000001'
export const USER = '5511988887777'

/** A text send body to `to`. */
export const textTo = (to: string, body = 'hello'): Record<string, unknown> =>
  ({ messaging_product: 'whatsapp', recipient_type: 'individual', to, type: 'text', text: { body } })

/** A template send body to `to`. */
export const templateTo = (to: string, name = 'order_update'): Record<string, unknown> =>
  ({ messaging_product: 'whatsapp', to, type: 'template', template: { name, language: { code: 'pt_BR' } } })

/** A started simulator with one configured number (and a manual clock unless given). */
export async function startSim (t: Teardown, opts: { number?: Partial<NumberConfigInput>, clock?: Clock, receiver?: Receiver, secret?: string } = {}): Promise<{ sim: RunningSimulator, clock: ManualClock | undefined }> {
  const clock = opts.clock === undefined ? createManualClock(Date.parse('2026-03-01T12:00:00Z')) : undefined
  const sim = await startSimulator({ port: 0, clock: opts.clock ?? clock as ManualClock, emitter: { retry: { initialDelayMs: 5, maxAttempts: 4 } } })
  t.teardown(() => sim.close())
  sim.control.configureNumber({ phoneNumberId: PNID, wabaId: WABA, displayPhoneNumber: DISPLAY, ...opts.number })
  if (opts.receiver !== undefined) sim.control.setWebhookTarget({ url: opts.receiver.url, appSecret: opts.secret ?? 'app-secret', appId: '1000000000000001' })
  return { sim, clock }
}
