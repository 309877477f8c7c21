/**
 * Conformance: every webhook the simulator can produce parses with `@coexist/meta`'s webhook
 * schemas (what ingress and sync use), and `@coexist/meta`'s signature check accepts the bytes.
 */
import t, { type Test } from 'tap'
import { parseWebhook, verifySignature } from '@coexist/meta'
import { ACCOUNT_EVENTS, INBOUND_TYPES, generateContactsSync, generateHistory, type GenerateInput, type WebhookEnvelope } from '../../src/index.ts'
import { graph, PNID, startReceiver, startSim, templateTo, TOKEN, USER, WABA } from '../helpers.ts'

function allChangesParse (t: Test, body: unknown, label: string): void {
  const r = parseWebhook(body)
  if (!r.ok) { t.fail(`${label}: ${r.error.message}`, { issues: r.error.issues }); return }
  for (const c of r.changes) {
    if (!c.result.ok) t.fail(`${label}: ${c.field}: ${c.result.error.message}`, { issues: c.result.error.issues })
    else t.pass(`${label}: ${c.field}`)
  }
}

t.test('inbound messages of every type, echoes, contacts, statuses, errors and account updates parse', async (t) => {
  const { sim } = await startSim(t, { number: { mode: 'coexistence' } })
  const c = sim.control
  const bodies: Array<[string, unknown]> = []
  const first = await c.inbound({ phoneNumberId: PNID, from: USER, text: 'hi' })
  for (const type of INBOUND_TYPES) {
    bodies.push([`inbound ${type}`, (await c.inbound({ phoneNumberId: PNID, from: USER, type, refId: first.wamid })).body])
  }
  bodies.push(['list reply', (await c.inbound({ phoneNumberId: PNID, from: USER, type: 'interactive', interactiveType: 'list_reply', refId: first.wamid })).body])
  bodies.push(['bsuid only', (await c.inbound({ phoneNumberId: PNID, from: '', userId: 'BR.1A2B3C4D', withoutPhone: true })).body])
  bodies.push(['forwarded', (await c.inbound({ phoneNumberId: PNID, from: USER, forwarded: true })).body])
  bodies.push(['referral', (await c.inbound({ phoneNumberId: PNID, from: USER, referral: { source_url: 'https://fb.me/x', source_id: '1', source_type: 'ad', ctwa_clid: 'abc' } })).body])
  const generated: GenerateInput[] = [
    { kind: 'echo', phoneNumberId: PNID, to: `+${USER}` },
    { kind: 'contact', phoneNumberId: PNID, phone: USER, fullName: 'Ana Lima' },
    { kind: 'contact', phoneNumberId: PNID, phone: USER, action: 'remove' },
    { kind: 'status', phoneNumberId: PNID, wamid: 'wamid.X', status: 'delivered', recipientId: USER },
    { kind: 'status', phoneNumberId: PNID, wamid: 'wamid.X', status: 'failed', recipientId: USER, errorCode: 131026 },
    { kind: 'error', phoneNumberId: PNID, code: 130429 },
    ...ACCOUNT_EVENTS.map((event) => ({ kind: 'account_update' as const, wabaId: WABA, event, partnerBusinessId: '990000000000777' })),
    { kind: 'account_update', wabaId: WABA, event: 'PARTNER_REMOVED', reason: 'PRIMARY_INACTIVITY', initiatedBy: 'SYSTEM' }
  ]
  for (const g of generated) {
    for (const b of c.generate(g)) bodies.push([`${g.kind} ${'event' in g ? g.event : 'status' in g ? g.status : ''}`, b])
  }
  for (const [label, body] of bodies) allChangesParse(t, body, label)
})

t.test('status webhooks from real sends and the sync webhooks parse, and signatures verify', async (t) => {
  const r = await startReceiver(t)
  const { sim } = await startSim(t, {
    receiver: r,
    secret: 'conformance',
    number: { mode: 'coexistence', sync: { history: { messages: 120, threads: 6, chunkSize: 30, mediaRatio: 0.3, phaseWeights: [0.3, 0.4, 0.3] } } }
  })
  await graph(sim.graphUrl, 'POST', `/v23.0/${PNID}/messages`, { token: TOKEN, body: templateTo(`+${USER}`) })
  await graph(sim.graphUrl, 'POST', `/v24.0/${PNID}/smb_app_data`, { token: TOKEN, body: { messaging_product: 'whatsapp', sync_type: 'smb_app_state_sync' } })
  await graph(sim.graphUrl, 'POST', `/v24.0/${PNID}/smb_app_data`, { token: TOKEN, body: { messaging_product: 'whatsapp', sync_type: 'history' } })
  await sim.control.whenIdle()
  t.ok(r.received.length > 8)
  for (const w of r.received) {
    t.same(verifySignature(w.raw, w.headers['x-hub-signature-256'], ['conformance']), { ok: true })
    allChangesParse(t, w.json, w.json.entry[0].changes[0].field)
  }
})

t.test('generators: declined history and contacts parse', async (t) => {
  const n = { phoneNumberId: PNID, wabaId: WABA, displayPhoneNumber: '5511999990000' }
  const h = generateHistory(n, { messages: 0, threads: 1, days: 180, declined: false, chunkSize: 10, mediaRatio: 0, phaseWeights: [1, 1, 1], seed: 1 }, Date.now(), () => ({ id: '1', mimeType: 'image/jpeg', sha256: 'x' }))
  t.equal(h.chunks.length, 1, 'an empty history still ends with progress 100')
  const chunk = (h.chunks[0] as WebhookEnvelope).entry[0]!.changes[0]!.value as { history: Array<{ metadata: { progress: number } }> }
  t.equal(chunk.history[0]!.metadata.progress, 100)
  allChangesParse(t, h.chunks[0], 'empty history')
  for (const b of generateContactsSync(n, { count: 3, chunkSize: 2, seed: 1 }, Date.now())) allChangesParse(t, b, 'contacts')
})
