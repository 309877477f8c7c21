import t from 'tap'
import { request } from 'undici'
import { graph, PNID, startSim, templateTo, TOKEN, USER, WABA } from '../helpers.ts'

t.test('auth: no or unknown token is 190/401; a token of another number is 100/33', async (t) => {
  const { sim } = await startSim(t)
  sim.control.configureNumber({ phoneNumberId: '620000000000002', wabaId: '310000000000002', displayPhoneNumber: '5511999990002' })
  const none = await graph(sim.graphUrl, 'POST', `/v24.0/${PNID}/messages`, { body: templateTo(USER) })
  t.equal(none.status, 401)
  t.equal(none.body.error.code, 190)
  t.equal((await graph(sim.graphUrl, 'POST', `/v24.0/${PNID}/messages`, { token: 'guess', body: templateTo(USER) })).body.error.code, 190)
  const other = await graph(sim.graphUrl, 'POST', `/v24.0/${PNID}/messages`, { token: 'sim-token-620000000000002', body: templateTo(USER) })
  t.equal(other.status, 400)
  t.match(other.body.error, { code: 100, error_subcode: 33, message: /Object with ID '620000000000001' does not exist/ })
  t.equal((await graph(sim.graphUrl, 'POST', '/v24.0/699999999999999/messages', { token: TOKEN, body: templateTo(USER) })).body.error.error_subcode, 33)
  t.equal((await graph(sim.graphUrl, 'POST', `/latest/${PNID}/messages`, { token: TOKEN, body: templateTo(USER) })).body.error.code, 100, 'bad version')
  // access_token as a query parameter works like the header.
  const q = await request(`${sim.graphUrl}/v24.0/${PNID}/messages?access_token=${TOKEN}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(templateTo(USER)) })
  t.equal(q.statusCode, 200)
  await q.body.dump()
  t.same(sim.control.sends().rejected.map((r) => r.code), [190, 190, 100, 100])
})

t.test('malformed bodies: invalid JSON 100, missing 131008, invalid 131009, recipient = sender 131021', async (t) => {
  const { sim } = await startSim(t)
  const post = (opts: { raw?: string, body?: unknown }) => graph(sim.graphUrl, 'POST', `/v24.0/${PNID}/messages`, { token: TOKEN, ...opts })
  t.match(await post({ raw: '{"messaging_product":' }), { status: 400, body: { error: { code: 100 } } })
  t.match(await post({ body: [] }), { status: 400, body: { error: { code: 100 } } })
  t.match(await post({ body: { messaging_product: 'whatsapp', to: USER, type: 'image', image: { caption: 'x' } } }), { status: 400, body: { error: { code: 131009 } } })
  t.match(await post({ body: { messaging_product: 'whatsapp', to: USER, type: 'template' } }), { status: 400, body: { error: { code: 131008 } } })
  t.match(await post({ body: { messaging_product: 'whatsapp', to: '+5511999990000', type: 'template', template: { name: 'x', language: { code: 'en' } } } }), { status: 400, body: { error: { code: 131021 } } })
  const form = await request(`${sim.graphUrl}/v24.0/${PNID}/messages`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ messaging_product: 'whatsapp', to: USER, type: 'template', template: JSON.stringify({ name: 'hello', language: { code: 'en' } }) }).toString()
  })
  t.equal(form.statusCode, 200, 'form-encoded parameters are accepted, as Graph does')
  await form.body.dump()
})

t.test('phone number node: default fields, ?fields=, unknown field; WABA listing and subscription', async (t) => {
  const { sim } = await startSim(t, { number: { mode: 'coexistence' } })
  const node = await graph(sim.graphUrl, 'GET', `/v24.0/${PNID}`, { token: TOKEN })
  t.same(Object.keys(node.body), ['verified_name', 'code_verification_status', 'display_phone_number', 'quality_rating', 'platform_type', 'throughput', 'id'])
  t.match(node.body, { display_phone_number: '+5511999990000', platform_type: 'CLOUD_API', throughput: { level: 'STANDARD' }, id: PNID })
  t.same((await graph(sim.graphUrl, 'GET', `/v24.0/${PNID}?fields=is_on_biz_app,platform_type`, { token: TOKEN })).body, { is_on_biz_app: true, platform_type: 'CLOUD_API', id: PNID })
  const bad = await graph(sim.graphUrl, 'GET', `/v24.0/${PNID}?fields=nonsense`, { token: TOKEN })
  t.match(bad, { status: 400, body: { error: { code: 100, message: /nonexisting field \(nonsense\)/ } } })
  sim.control.configureNumber({ ...sim.control.getNumber(PNID)!, mps: 1000 })
  t.same((await graph(sim.graphUrl, 'GET', `/v24.0/${PNID}?fields=throughput`, { token: TOKEN })).body.throughput, { level: 'HIGH' })

  const list = await graph(sim.graphUrl, 'GET', `/v24.0/${WABA}/phone_numbers`, { token: TOKEN })
  t.same(list.body.data.map((n: any) => n.id), [PNID])
  t.equal((await graph(sim.graphUrl, 'GET', `/v24.0/${WABA}/phone_numbers`, { token: 'x' })).status, 401)

  t.same((await graph(sim.graphUrl, 'GET', `/v24.0/${WABA}/subscribed_apps`, { token: TOKEN })).body, { data: [] })
  t.same((await graph(sim.graphUrl, 'POST', `/v24.0/${WABA}/subscribed_apps`, { token: TOKEN })).body, { success: true })
  t.equal((await graph(sim.graphUrl, 'GET', `/v24.0/${WABA}/subscribed_apps`, { token: TOKEN })).body.data.length, 1)
  t.same(sim.sim.subscriptions().map((s) => s.wabaId), [WABA])
})

t.test('media: GET /{media-id} gives a 5-minute URL; download needs the token', async (t) => {
  const { sim, clock } = await startSim(t)
  const { mediaId, body } = await sim.control.inbound({ phoneNumberId: PNID, from: USER, type: 'image', text: 'look' })
  const image = body.entry[0]!.changes[0]!.value.messages as any[]
  t.match(image[0].image, { caption: 'look', mime_type: 'image/jpeg', id: mediaId, sha256: /^[0-9a-f]{64}$/, url: /^http/ })
  const info = await graph(sim.graphUrl, 'GET', `/v24.0/${mediaId}?phone_number_id=${PNID}`, { token: TOKEN })
  t.match(info.body, { messaging_product: 'whatsapp', url: /\/_media\/download\?/, mime_type: 'image/jpeg', sha256: image[0].image.sha256, file_size: /^\d+$/, id: mediaId })
  const noToken = await request(info.body.url)
  t.equal(noToken.statusCode, 401)
  await noToken.body.dump()
  const dl = await request(info.body.url, { headers: { authorization: `Bearer ${TOKEN}` } })
  t.equal(dl.statusCode, 200)
  t.equal(dl.headers['content-type'], 'image/jpeg')
  t.equal((await dl.body.arrayBuffer()).byteLength, Number(info.body.file_size))
  clock!.advance(5 * 60_000 + 1)
  const expired = await request(info.body.url, { headers: { authorization: `Bearer ${TOKEN}` } })
  t.equal(expired.statusCode, 404, 'expired URL')
  await expired.body.dump()
  t.equal((await graph(sim.graphUrl, 'GET', '/v24.0/9999999999999999', { token: TOKEN })).body.error.error_subcode, 33)
  t.same((await graph(sim.graphUrl, 'DELETE', `/v24.0/${mediaId}`, { token: TOKEN })).body, { success: true })
})

t.test('media upload (multipart) returns an id that GET resolves', async (t) => {
  const { sim } = await startSim(t)
  const form = new FormData()
  form.set('messaging_product', 'whatsapp')
  form.set('file', new Blob([Buffer.from('%PDF-1.4 fake')], { type: 'application/pdf' }), 'a.pdf')
  // Node's own fetch/FormData (what a Graph client using fetch sends).
  const up = await fetch(`${sim.graphUrl}/v24.0/${PNID}/media`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` }, body: form })
  const { id } = await up.json() as { id: string }
  t.match(id, /^\d+$/)
  const info = await graph(sim.graphUrl, 'GET', `/v24.0/${id}`, { token: TOKEN })
  t.match(info.body, { mime_type: 'application/pdf', file_size: '13' })
})

t.test('unknown paths: Graph-style error, or problem+json under /_sim', async (t) => {
  const { sim } = await startSim(t)
  const g = await graph(sim.graphUrl, 'POST', `/v24.0/${PNID}/nonsense`, { token: TOKEN, body: {} })
  t.match(g, { status: 400, body: { error: { code: 100, message: `Unknown path components: /v24.0/${PNID}/nonsense` } } })
  const c = await graph(sim.url, 'GET', '/_sim/nothing')
  t.match(c, { status: 404, body: { code: 'SIM_NOT_FOUND' } })
})
