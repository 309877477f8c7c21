import t, { type Test } from 'tap'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { once } from 'node:events'
import { inspect } from 'node:util'
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import type { AddressInfo } from 'node:net'
import { Agent } from 'undici'
import { findCoexistError } from '@coexist/errors'
import { GRAPH_REQUEST_CHANNEL, MetaApiError, MetaErrors, buildGraphErrorBody, createGraphClient, isOutcomeUnknown, type GraphClient } from '../src/index.ts'

const TOKEN = 'EAAGsecretTOKENvalue1234567890abcdef'
const PN = '620000000000001'

interface Seen { method: string, url: string, headers: IncomingMessage['headers'], body: string }
type Route = (req: IncomingMessage, res: ServerResponse, body: string) => void

async function startServer (t: Test, route: Route): Promise<{ url: string, seen: Seen[] }> {
  const seen: Seen[] = []
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString()
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body })
      route(req, res, body)
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(async () => {
    server.closeAllConnections()
    server.close()
  })
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen }
}

function json (res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
  res.end(text)
}

function client (t: Test, url: string, extra: Partial<Parameters<typeof createGraphClient>[0]> = {}): { graph: GraphClient, logs: object[] } {
  const logs: object[] = []
  const logger = { debug: (o: object, m?: string) => logs.push({ ...o, m }), warn: (o: object, m?: string) => logs.push({ ...o, m }) }
  const graph = createGraphClient({ baseUrl: url, version: 'v24.0', logger, timeoutMs: 2000, ...extra })
  t.teardown(() => graph.close())
  return { graph, logs }
}

/** Asserts the token appears nowhere in what an error exposes. */
function noToken (t: Test, err: unknown): void {
  const e = err as Error & { detail?: unknown }
  t.notMatch(e.message, TOKEN)
  t.notMatch(String(e.stack), TOKEN)
  t.notMatch(JSON.stringify(e.detail ?? {}), TOKEN)
  t.notMatch(inspect(err, { depth: 8 }), TOKEN)
}

async function rejection (p: Promise<unknown>): Promise<unknown> {
  try { await p } catch (err) { return err }
  throw new Error('expected a rejection')
}

t.test('sendMessage posts the validated body with the token and parses the answer', async (t) => {
  const { url, seen } = await startServer(t, (_req, res) => json(res, 200, {
    messaging_product: 'whatsapp', contacts: [{ input: '+5511988887777', wa_id: '5511988887777' }], messages: [{ id: 'wamid.OUT_0050', message_status: 'accepted' }]
  }))
  const { graph, logs } = client(t, url)
  const r = await graph.sendMessage(PN, TOKEN, { to: '+5511988887777', type: 'text', text: { body: 'Olá' } })
  t.equal(r.messages[0]?.id, 'wamid.OUT_0050')
  t.equal(seen[0]?.method, 'POST')
  t.equal(seen[0]?.url, `/v24.0/${PN}/messages`)
  t.equal(seen[0]?.headers.authorization, `Bearer ${TOKEN}`)
  t.equal(seen[0]?.headers['content-type'], 'application/json')
  t.same(JSON.parse(seen[0]!.body), { messaging_product: 'whatsapp', to: '+5511988887777', type: 'text', text: { body: 'Olá' } })
  t.notMatch(JSON.stringify(logs), TOKEN)
  t.notMatch(JSON.stringify(logs), /authorization/i)
})

t.test('sendValidatedMessage posts the JSON text byte for byte and parses the answer; a body that is not an object is refused unsent', async (t) => {
  const { url, seen } = await startServer(t, (_req, res) => json(res, 200, { messaging_product: 'whatsapp', messages: [{ id: 'wamid.OUT_0051' }] }))
  const { graph } = client(t, url)
  // As Postgres renders a stored jsonb body (spaces, its own key order).
  const text = '{"to": "+5511988887777", "text": {"body": "Olá"}, "type": "text", "messaging_product": "whatsapp"}'
  const r = await graph.sendValidatedMessage(PN, TOKEN, text)
  t.equal(r.messages[0]?.id, 'wamid.OUT_0051')
  t.equal(seen[0]?.url, `/v24.0/${PN}/messages`)
  t.equal(seen[0]?.headers['content-type'], 'application/json')
  t.equal(seen[0]?.body, text)
  for (const bad of ['', '[1]', '"x"', 'null']) {
    const err = await rejection(graph.sendValidatedMessage(PN, TOKEN, bad))
    t.ok(MetaErrors.META_REQUEST_INVALID.is(err), `refused: ${JSON.stringify(bad)}`)
  }
  t.equal(seen.length, 1, 'nothing else was sent')
})

t.test('other calls use the documented paths and bodies', async (t) => {
  const { url, seen } = await startServer(t, (req, res) => {
    const u = req.url ?? ''
    if (u.endsWith('/smb_app_data')) return json(res, 200, { messaging_product: 'whatsapp', request_id: 'req-123' })
    if (u.endsWith('/messages')) return json(res, 200, { success: true })
    if (u.endsWith('/subscribed_apps')) return json(res, 200, { success: true })
    if (u.startsWith('/v24.0/777')) return json(res, 200, { messaging_product: 'whatsapp', url: `http://${req.headers.host}/media/777?x=1`, mime_type: 'image/jpeg', sha256: 'abc', file_size: '5', id: '777' })
    if (u.startsWith('/media/777')) { res.writeHead(200, { 'content-type': 'image/jpeg' }); return res.end(Buffer.from([1, 2, 3, 4, 5])) }
    if (u.startsWith(`/v24.0/${PN}?fields=`)) return json(res, 200, { id: PN, is_on_biz_app: true, platform_type: 'CLOUD_API', throughput: { level: 'STANDARD' } })
    res.writeHead(404); res.end()
  })
  const { graph } = client(t, url)
  t.same(await graph.requestAppDataSync(PN, TOKEN, 'history'), { messaging_product: 'whatsapp', request_id: 'req-123' })
  t.same(JSON.parse(seen.at(-1)!.body), { messaging_product: 'whatsapp', sync_type: 'history' })
  t.same(await graph.markAsRead(PN, TOKEN, 'wamid.IN_1', { typingIndicator: true }), { success: true })
  t.same(JSON.parse(seen.at(-1)!.body), { messaging_product: 'whatsapp', status: 'read', message_id: 'wamid.IN_1', typing_indicator: { type: 'text' } })
  t.same(await graph.subscribeApp('310000000000001', TOKEN), { success: true })
  t.equal(seen.at(-1)!.url, '/v24.0/310000000000001/subscribed_apps')
  t.equal(seen.at(-1)!.body, '')
  await graph.subscribeApp('310000000000001', TOKEN, { overrideCallbackUri: 'https://hooks.example.com/w', verifyToken: 'vt' })
  t.same(JSON.parse(seen.at(-1)!.body), { override_callback_uri: 'https://hooks.example.com/w', verify_token: 'vt' })
  const media = await graph.getMediaUrl('777', TOKEN, { phoneNumberId: PN })
  t.equal(seen.at(-1)!.url, `/v24.0/777?phone_number_id=${PN}`)
  const file = await graph.downloadMedia(media.url, TOKEN)
  t.same([...file.data], [1, 2, 3, 4, 5])
  t.equal(file.contentType, 'image/jpeg')
  t.equal(seen.at(-1)!.headers.authorization, `Bearer ${TOKEN}`)
  const big = await rejection(graph.downloadMedia(media.url, TOKEN, { maxBytes: 4 }))
  t.ok(MetaErrors.META_MEDIA_TOO_LARGE.is(big))
  const pn = await graph.getPhoneNumber(PN, TOKEN, ['is_on_biz_app', 'platform_type', 'throughput'])
  t.equal(pn.is_on_biz_app, true)
  t.equal(seen.at(-1)!.url, `/v24.0/${PN}?fields=is_on_biz_app%2Cplatform_type%2Cthroughput`)
})

t.test('Meta error bodies map to classified MetaApiErrors without the token', async (t) => {
  const cases = [
    { code: 130429, status: 400, kind: 'throughput', retryable: true },
    { code: 131056, status: 400, kind: 'pair_rate', retryable: true },
    { code: 131047, status: 400, kind: 'window_closed', retryable: false },
    { code: 190, status: 401, kind: 'token', retryable: false },
    { code: 131000, status: 500, kind: 'transient', retryable: true }
  ]
  let i = 0
  const { url } = await startServer(t, (_req, res) => {
    const c = cases[i++]!
    json(res, c.status, buildGraphErrorBody(c.code, { details: `details for ${c.code}`, fbtraceId: `trace-${c.code}` }))
  })
  const { graph, logs } = client(t, url)
  for (const c of cases) {
    const err = await rejection(graph.sendMessage(PN, TOKEN, { to: '+1', type: 'text', text: { body: 'x' } }))
    t.type(err, MetaApiError)
    const e = err as MetaApiError
    t.equal(e.code, 'META_API_ERROR')
    t.equal(e.metaCode, c.code)
    t.equal(e.httpStatus, c.status)
    t.equal(e.classification.kind, c.kind)
    t.equal(e.retryable, c.retryable)
    t.equal(e.fbtraceId, `trace-${c.code}`)
    t.equal(e.details, `details for ${c.code}`)
    t.notOk(isOutcomeUnknown(e))
    noToken(t, e)
  }
  t.notMatch(JSON.stringify(logs), TOKEN)
})

t.test('a deadline after the request was written is outcome unknown', async (t) => {
  const { url, seen } = await startServer(t, () => { /* never answers */ })
  const { graph } = client(t, url, { timeoutMs: 150 })
  const err = await rejection(graph.sendMessage(PN, TOKEN, { to: '+1', type: 'text', text: { body: 'x' } }))
  t.ok(MetaErrors.META_OUTCOME_UNKNOWN.is(err), String((err as Error).message))
  t.ok(isOutcomeUnknown(err))
  const e = findCoexistError(err)!
  t.equal(e.retryable, true)
  t.equal(e.detail?.reason, 'timeout')
  t.equal(e.detail?.requestSent, true)
  t.equal(seen.length, 1, 'Meta got the request')
  noToken(t, err)
})

t.test('a connection reset after the request was written is outcome unknown', async (t) => {
  const { url } = await startServer(t, (req) => req.socket.destroy())
  const { graph } = client(t, url)
  const err = await rejection(graph.sendMessage(PN, TOKEN, { to: '+1', type: 'text', text: { body: 'x' } }))
  t.ok(MetaErrors.META_OUTCOME_UNKNOWN.is(err), String((err as Error).message))
  t.equal(findCoexistError(err)?.detail?.requestSent, true)
  noToken(t, err)
})

t.test('a refused connection never sent anything and is safe to retry', async (t) => {
  const { url } = await startServer(t, () => {})
  const closed = createServer()
  closed.listen(0, '127.0.0.1')
  await once(closed, 'listening')
  const port = (closed.address() as AddressInfo).port
  closed.close()
  await once(closed, 'close')
  const { graph } = client(t, `http://127.0.0.1:${port}`)
  const err = await rejection(graph.sendMessage(PN, TOKEN, { to: '+1', type: 'text', text: { body: 'x' } }))
  t.ok(MetaErrors.META_CONNECT_FAILED.is(err), String((err as Error).message))
  t.notOk(isOutcomeUnknown(err))
  const e = findCoexistError(err)!
  t.equal(e.retryable, true)
  t.equal(e.detail?.requestSent, false)
  t.equal(e.detail?.networkCode, 'ECONNREFUSED')
  noToken(t, err)
  t.ok(url)
})

t.test('a deadline while still queued never sends the request', async (t) => {
  const { url, seen } = await startServer(t, (req, res) => {
    if (req.url?.includes('slow') === true) { setTimeout(() => json(res, 200, { id: 'slow' }), 600); return } // holds the only connection
    json(res, 200, { success: true })
  })
  const agent = new Agent({ connections: 1, pipelining: 1 })
  t.teardown(() => agent.close())
  const slowClient = client(t, url, { dispatcher: agent, timeoutMs: 5000 }).graph
  const { graph } = client(t, url, { dispatcher: agent, timeoutMs: 200 })
  const slow = slowClient.getPhoneNumber('slow', TOKEN, [])
  await new Promise((resolve) => setTimeout(resolve, 50))
  const queued = await rejection(graph.markAsRead(PN, TOKEN, 'wamid.Q', {}))
  t.ok(MetaErrors.META_CONNECT_FAILED.is(queued), String((queued as Error).message))
  t.equal(findCoexistError(queued)?.detail?.reason, 'timeout')
  t.equal(findCoexistError(queued)?.detail?.requestSent, false)
  t.equal((await slow).id, 'slow')
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.same(seen.map((s) => s.url), ['/v24.0/slow'], 'the queued request never reached the server')
})

t.test('non-Graph answers and bad 2xx bodies', async (t) => {
  const answers: Array<(res: ServerResponse) => void> = [
    (res) => { res.writeHead(502, { 'content-type': 'text/html' }); res.end('<html>Bad gateway</html>') },
    (res) => json(res, 200, { messaging_product: 'whatsapp', messages: [] }),
    (res) => { res.writeHead(200); res.end('not json') },
    (res) => { res.writeHead(404); res.end() },
    (res) => json(res, 200, { error: { code: 100, message: '(#100) Invalid parameter', type: 'OAuthException' } })
  ]
  let i = 0
  const { url } = await startServer(t, (_req, res) => answers[i++]!(res))
  const { graph } = client(t, url)
  const send = () => rejection(graph.sendMessage(PN, TOKEN, { to: '+1', type: 'text', text: { body: 'x' } }))
  t.ok(MetaErrors.META_OUTCOME_UNKNOWN.is(await send()), '502 html')
  const invalid = await send()
  t.ok(MetaErrors.META_RESPONSE_INVALID.is(invalid), 'empty messages')
  t.ok(Array.isArray(findCoexistError(invalid)?.detail?.issues))
  t.ok(MetaErrors.META_RESPONSE_INVALID.is(await send()), 'not json')
  t.ok(MetaErrors.META_RESPONSE_INVALID.is(await send()), '404 empty')
  const e200 = await send()
  t.type(e200, MetaApiError, 'an error body with 200 is still an error')
})

t.test('invalid input is refused before anything is sent', async (t) => {
  const { url, seen } = await startServer(t, (_req, res) => json(res, 200, { success: true }))
  const { graph } = client(t, url)
  const bad = await rejection(graph.sendMessage(PN, TOKEN, { to: '+1', type: 'text', text: { body: 'x'.repeat(5000) } }))
  t.ok(MetaErrors.META_REQUEST_INVALID.is(bad))
  t.equal((findCoexistError(bad)?.detail?.issues as Array<{ path: string }>)[0]?.path, 'text.body')
  t.ok(MetaErrors.META_REQUEST_INVALID.is(await rejection(graph.sendMessage('../x', TOKEN, { to: '+1', type: 'text', text: { body: 'x' } }))))
  const badToken = await rejection(graph.markAsRead(PN, 'bad\r\ntoken: x', 'w'))
  t.ok(MetaErrors.META_REQUEST_INVALID.is(badToken))
  t.notMatch((badToken as Error).message, 'bad')
  t.ok(MetaErrors.META_REQUEST_INVALID.is(await rejection(graph.downloadMedia('https://evil.example.com/x', TOKEN))), 'token never sent to a foreign host')
  t.ok(MetaErrors.META_REQUEST_INVALID.is(await rejection(graph.downloadMedia('http://lookaside.fbsbx.com/x', TOKEN))), 'only https to Meta hosts')
  t.ok(MetaErrors.META_REQUEST_INVALID.is(await rejection(graph.requestAppDataSync(PN, TOKEN, 'all' as never))))
  t.ok(MetaErrors.META_REQUEST_INVALID.is(await rejection(graph.getPhoneNumber(PN, TOKEN, ['a&b=c']))))
  t.equal(seen.length, 0)
})

t.test('configuration is checked and diagnostics are published without secrets', async (t) => {
  t.throws(() => createGraphClient({ baseUrl: 'not a url', version: 'v24.0' }), { code: 'META_CONFIG_INVALID' })
  t.throws(() => createGraphClient({ baseUrl: 'ftp://x', version: 'v24.0' }), { code: 'META_CONFIG_INVALID' })
  t.throws(() => createGraphClient({ baseUrl: 'http://x', version: '24' }), { code: 'META_CONFIG_INVALID' })
  const { url } = await startServer(t, (_req, res) => json(res, 200, { success: true }))
  const events: unknown[] = []
  const onMessage = (m: unknown): void => { events.push(m) }
  subscribe(GRAPH_REQUEST_CHANNEL, onMessage)
  t.teardown(() => unsubscribe(GRAPH_REQUEST_CHANNEL, onMessage))
  const { graph } = client(t, `${url}/`)
  await graph.markAsRead(PN, TOKEN, 'w')
  t.match(events[0], { method: 'POST', path: `/v24.0/${PN}/messages`, statusCode: 200, outcome: 'ok' })
  t.notMatch(JSON.stringify(events), TOKEN)
})

t.test('getPricingAnalytics builds Meta\'s field expression and parses data points', async (t) => {
  const WABA = '310000000000001'
  const { url, seen } = await startServer(t, (_req, res) => json(res, 200, {
    id: WABA,
    pricing_analytics: {
      data: [{
        data_points: [
          { start: 1748761200, end: 1748847600, country: 'US', tier: '0:MAX', pricing_type: 'REGULAR', pricing_category: 'MARKETING', volume: 4, cost: 40 },
          { start: 1748761200, end: 1748847600, country: 'US', pricing_type: 'FREE_CUSTOMER_SERVICE', pricing_category: 'UTILITY', volume: 1, cost: 0 }
        ]
      }]
    }
  }))
  const { graph } = client(t, url)
  const r = await graph.getPricingAnalytics(WABA, TOKEN, {
    start: 1748761200, end: 1749687703, granularity: 'DAILY', dimensions: ['PRICING_CATEGORY', 'PRICING_TYPE', 'TIER', 'COUNTRY'], countryCodes: ['US', 'IN']
  })
  t.equal(seen[0]?.method, 'GET')
  t.equal(decodeURIComponent(seen[0]?.url ?? ''),
    `/v24.0/${WABA}?fields=pricing_analytics.start(1748761200).end(1749687703).granularity(DAILY).dimensions(PRICING_CATEGORY,PRICING_TYPE,TIER,COUNTRY).country_codes(US,IN)`)
  t.equal(seen[0]?.headers.authorization, `Bearer ${TOKEN}`)
  const points = r.pricing_analytics?.data.flatMap((d) => d.data_points) ?? []
  t.equal(points.length, 2)
  t.match(points[0], { pricing_category: 'MARKETING', volume: 4, cost: 40, tier: '0:MAX' })
  t.ok(MetaErrors.META_REQUEST_INVALID.is(await rejection(graph.getPricingAnalytics(WABA, TOKEN, { start: 10, end: 5, granularity: 'DAILY' }))), 'end before start')
  t.ok(MetaErrors.META_REQUEST_INVALID.is(await rejection(graph.getPricingAnalytics(WABA, TOKEN, { start: 1, end: 5, granularity: 'DAILY', countryCodes: ['U)S'] }))), 'no injection into the field expression')
  t.equal(seen.length, 1)
})

t.test('getPricingAnalytics: Meta\'s refusal (cost hidden for partner-billed businesses) is a coded Meta error', async (t) => {
  const { url } = await startServer(t, (_req, res) => json(res, 400, { error: { message: 'Cost not available', type: 'OAuthException', code: 100, fbtrace_id: 'Abc' } }))
  const { graph } = client(t, url)
  const err = await rejection(graph.getPricingAnalytics('310000000000001', TOKEN, { start: 1, end: 5, granularity: 'MONTHLY' }))
  t.ok(err instanceof MetaApiError)
  t.equal((err as MetaApiError).metaCode, 100)
  noToken(t, err)
})
