/**
 * The simulator against `@coexist/meta`'s real Graph client: responses parse with the client's
 * schemas and errors come back as MetaApiError with the right code and classification.
 */
import t from 'tap'
import { createGraphClient, findMetaApiError, isOutcomeUnknown } from '@coexist/meta'
import { PNID, startSim, TOKEN, USER, WABA } from '../helpers.ts'

async function client (t: { teardown: (fn: () => unknown) => void }, baseUrl: string, version = 'v24.0') {
  const c = createGraphClient({ baseUrl, version, timeoutMs: 5000 })
  t.teardown(() => c.close())
  return c
}

t.test('send, read, sync, phone number, subscribe, media and pricing analytics', async (t) => {
  const { sim, clock } = await startSim(t, { number: { mode: 'coexistence', templates: { order_update: 'utility' } } })
  const g = await client(t, sim.graphUrl, sim.graphVersion)
  const sent = await g.sendMessage(PNID, TOKEN, { to: `+${USER}`, type: 'template', template: { name: 'order_update', language: { code: 'pt_BR' } } })
  t.match(sent, { messaging_product: 'whatsapp', contacts: [{ input: `+${USER}`, wa_id: USER }], messages: [{ id: /^wamid\./, message_status: 'accepted' }] })
  t.same(await g.markAsRead(PNID, TOKEN, 'wamid.IN_1', { typingIndicator: true }), { success: true })
  t.match(await g.requestAppDataSync(PNID, TOKEN, 'history'), { request_id: /^\d+$/ })
  t.match(await g.getPhoneNumber(PNID, TOKEN, ['is_on_biz_app', 'platform_type', 'throughput']), { is_on_biz_app: true, platform_type: 'CLOUD_API', throughput: { level: 'STANDARD' }, id: PNID })
  t.same(await g.subscribeApp(WABA, TOKEN), { success: true })

  const { mediaId } = await sim.control.inbound({ phoneNumberId: PNID, from: USER, type: 'document' })
  const info = await g.getMediaUrl(mediaId!, TOKEN, { phoneNumberId: PNID })
  const file = await g.downloadMedia(info.url, TOKEN)
  t.equal(file.contentType, 'application/pdf')
  t.equal(file.size, Number(info.file_size))

  sim.control.openWindow({ phoneNumberId: PNID, waId: '5511977776666' })
  await g.sendMessage(PNID, TOKEN, { to: '+5511977776666', type: 'text', text: { body: 'free inside the window' } })
  await g.sendMessage(PNID, TOKEN, { to: '+5511977776666', type: 'template', template: { name: 'spring_sale', language: { code: 'pt_BR' } } })
  const now = Math.floor(clock!.now() / 1000)
  const pa = await g.getPricingAnalytics(WABA, TOKEN, { start: now - 86_400, end: now + 86_400, granularity: 'DAILY', dimensions: ['PRICING_CATEGORY', 'PRICING_TYPE', 'COUNTRY'] })
  const points = pa.pricing_analytics!.data[0]!.data_points
  const by = (cat: string) => points.find((p) => p.pricing_category === cat)
  t.match(by('UTILITY'), { volume: 1, pricing_type: 'REGULAR', country: 'BR' }, 'utility template outside the window is charged')
  t.match(by('MARKETING'), { volume: 1, cost: 0.0625 })
  t.match(by('SERVICE'), { volume: 1, cost: 0, pricing_type: 'FREE_CUSTOMER_SERVICE' })
  const filtered = await g.getPricingAnalytics(WABA, TOKEN, { start: now - 86_400, end: now + 86_400, granularity: 'MONTHLY', pricingCategories: ['MARKETING'] })
  t.same(filtered.pricing_analytics!.data[0]!.data_points.map((p) => p.volume), [1])
})

t.test('Meta errors reach the client with their codes and kinds', async (t) => {
  const { sim } = await startSim(t, { number: { mps: 1, pairLimit: { burst: 1, intervalMs: 6000 } } })
  const g = await client(t, sim.graphUrl)
  const template = { type: 'template' as const, template: { name: 'hello', language: { code: 'en' } } }
  const err = async (p: Promise<unknown>) => { try { await p } catch (e) { return e } return undefined }

  const window = findMetaApiError(await err(g.sendMessage(PNID, TOKEN, { to: USER, type: 'text', text: { body: 'x' } })))
  t.match(window, { metaCode: 131047, httpStatus: 400, classification: { kind: 'window_closed' } })
  await g.sendMessage(PNID, TOKEN, { to: USER, ...template })
  const throughput = findMetaApiError(await err(g.sendMessage(PNID, TOKEN, { to: '+5511900000000', ...template })))
  t.match(throughput, { metaCode: 130429, classification: { kind: 'throughput', retryable: true } })
  sim.control.configureNumber({ ...sim.control.getNumber(PNID)!, mps: 80 })
  t.match(findMetaApiError(await err(g.sendMessage(PNID, TOKEN, { to: USER, ...template }))), { metaCode: 131056, classification: { kind: 'pair_rate', scope: 'recipient' } })
  t.match(findMetaApiError(await err(g.sendMessage(PNID, 'wrong-token', { to: USER, ...template }))), { metaCode: 190, httpStatus: 401, classification: { kind: 'token' } })

  sim.control.setFaults({ phoneNumberId: PNID, failNext: { count: 1, code: 133004 } })
  const e503 = await err(g.sendMessage(PNID, TOKEN, { to: '+5511911110000', ...template }))
  t.match(findMetaApiError(e503), { metaCode: 133004, httpStatus: 503, classification: { kind: 'transient', retryable: true } })

  sim.control.setFaults({ phoneNumberId: PNID, resetNext: 1 })
  const reset = await err(g.sendMessage(PNID, TOKEN, { to: '+5511911110001', ...template }))
  t.ok(isOutcomeUnknown(reset), 'a reset after the request was written: outcome unknown')

  sim.control.setFaults({ phoneNumberId: PNID, tokenExpired: true })
  t.match(findMetaApiError(await err(g.sendMessage(PNID, TOKEN, { to: USER, ...template }))), { metaCode: 190, errorSubcode: 463 })
})
