import t, { type Test } from 'tap'
import { FIXTURE_IDS, MALFORMED_SAMPLES, WEBHOOK_SAMPLES, accountUpdateWebhook, inboundTextWebhook } from '../fixtures/index.ts'
import {
  InboundMessageSchema, changeRoutingKeys, classifyMetaError, inboundSender, isKnownWebhookField, parseChangeValue, parseEnvelope,
  parseWebhook, serializeLikeMeta, unixSeconds, type InboundMessageOf, type ParsedChange, type WebhookValue
} from '../src/index.ts'

/** Parses a sample and returns its only change, failing the test if anything does not parse. */
function only (t: Test, body: unknown): ParsedChange {
  const r = parseWebhook(JSON.stringify(body))
  if (!r.ok) throw new Error(`envelope failed: ${r.error.message}`)
  t.equal(r.changes.length, 1)
  const c = r.changes[0]!
  if (!c.result.ok) throw new Error(`change failed: ${JSON.stringify(c.result.error)}`)
  return c.result
}
function messagesOf (t: Test, body: unknown): WebhookValue<'messages'> {
  const c = only(t, body)
  if (c.field !== 'messages') throw new Error('not messages')
  return c.value
}

t.test('every sample parses, as JSON text, as Buffer, and as Meta-escaped bytes', async (t) => {
  for (const [name, body] of Object.entries(WEBHOOK_SAMPLES)) {
    for (const input of [JSON.stringify(body), Buffer.from(serializeLikeMeta(body)), body]) {
      const r = parseWebhook(input)
      t.ok(r.ok, `${name} envelope`)
      if (!r.ok) continue
      for (const c of r.changes) t.ok(c.result.ok, `${name} ${c.field}${c.result.ok ? '' : ' ' + JSON.stringify(c.result.error)}`)
    }
  }
})

t.test('every malformed sample fails with a located issue, and never throws', async (t) => {
  for (const [name, body] of Object.entries(MALFORMED_SAMPLES)) {
    const r = parseWebhook(JSON.stringify(body))
    t.ok(r.ok, `${name} envelope is fine`)
    if (!r.ok) continue
    const c = r.changes[0]!
    t.notOk(c.result.ok, `${name} value is refused`)
    if (!c.result.ok) {
      t.equal(c.result.error.kind, 'invalid_value')
      t.ok((c.result.error.issues?.length ?? 0) > 0, `${name} has issues`)
    }
  }
})

t.test('inbound messages are typed by type', async (t) => {
  const v = messagesOf(t, WEBHOOK_SAMPLES.inboundText)
  const m = v.messages?.[0]
  t.equal(m?.type, 'text')
  if (m?.type === 'text') t.equal(m.text.body, 'Is the blue one still available?')
  const typed: InboundMessageOf<'text'> | undefined = m?.type === 'text' ? m : undefined
  t.ok(typed)
  const btn = messagesOf(t, WEBHOOK_SAMPLES.inboundButtonReply).messages?.[0]
  if (btn?.type !== 'interactive') throw new Error('expected interactive')
  t.equal(btn.interactive.type, 'button_reply')
  if (btn.interactive.type === 'button_reply') t.equal(btn.interactive.button_reply.id, 'confirm-yes')
  t.equal(btn.context?.id, 'wamid.HBgNNTUxMTk4ODg4Nzc3NxUCABEYEjBBQkNERUYwMTIzNDU2Nzg5AA==')
  const flow = messagesOf(t, WEBHOOK_SAMPLES.inboundFlowReply).messages?.[0]
  if (flow?.type === 'interactive' && flow.interactive.type === 'nfm_reply') t.same(JSON.parse(flow.interactive.nfm_reply.response_json), { flow_token: 'ft-1', size: 'M' })
  else t.fail('nfm_reply')
  const ad = messagesOf(t, WEBHOOK_SAMPLES.inboundTextFromAd).messages?.[0]
  t.equal(ad?.referral?.ctwa_clid, 'ARAkLkA8rmlFeiCktEJQ')
  const audio = messagesOf(t, WEBHOOK_SAMPLES.inboundAudioVoice).messages?.[0]
  t.equal(audio?.type === 'audio' && audio.audio.voice, true)
  const edit = messagesOf(t, WEBHOOK_SAMPLES.inboundEdit).messages?.[0]
  t.equal(edit?.type === 'edit' && edit.edit.original_message_id, 'wamid.IN_TEXT_0001')
  const revoke = messagesOf(t, WEBHOOK_SAMPLES.inboundRevoke).messages?.[0]
  t.equal(revoke?.type === 'revoke' && revoke.revoke.original_message_id, 'wamid.IN_TEXT_0001')
  const removed = messagesOf(t, WEBHOOK_SAMPLES.inboundReactionRemoved).messages?.[0]
  t.equal(removed?.type === 'reaction' && removed.reaction.emoji, '')
  const sys = messagesOf(t, WEBHOOK_SAMPLES.inboundSystemChangedNumber)
  t.equal(sys.contacts, undefined, 'system messages come without contacts')
  t.equal(unixSeconds(messagesOf(t, WEBHOOK_SAMPLES.inboundText).messages![0]!.timestamp), FIXTURE_IDS.timestamp + 1)
  t.equal(unixSeconds(7), 7)
})

t.test('unknown message types parse as unsupported and keep the raw object', async (t) => {
  const m = messagesOf(t, WEBHOOK_SAMPLES.inboundUnknownType).messages?.[0]
  t.equal(m?.type, 'unsupported')
  if (m?.type !== 'unsupported') return
  t.equal(m.unsupported?.type, 'poll_vote')
  t.same(m.raw?.poll_vote, { option: 2 })
  t.equal(m.id, 'wamid.IN_UNK_0001')
  const unknownInteractive = InboundMessageSchema.parse({ from: '1', id: 'w', timestamp: '1', type: 'interactive', interactive: { type: 'call_permission_reply', call_permission_reply: { response: 'accept' } } })
  t.equal(unknownInteractive.type, 'unsupported')
  t.equal(unknownInteractive.type === 'unsupported' && unknownInteractive.unsupported?.type, 'interactive.call_permission_reply')
  const native = messagesOf(t, WEBHOOK_SAMPLES.inboundUnsupported).messages?.[0]
  t.equal(native?.type === 'unsupported' && native.raw, undefined, 'Meta\'s own unsupported keeps its shape')
  t.equal(classifyMetaError(native?.errors?.[0]).code, 131051)
})

t.test('unknown keys are kept everywhere', async (t) => {
  const body = inboundTextWebhook({ wamid: 'wamid.K' }) as any
  body.new_top = 1
  body.entry[0].new_entry = 2
  body.entry[0].changes[0].value.new_value = 3
  body.entry[0].changes[0].value.messages[0].new_message = 4
  body.entry[0].changes[0].value.messages[0].text.new_text = 5
  const env = parseEnvelope(JSON.stringify(body))
  t.ok(env.ok)
  if (env.ok) t.equal((env.envelope as any).new_top, 1)
  const v = messagesOf(t, body) as any
  t.equal(v.new_value, 3)
  t.equal(v.messages[0].new_message, 4)
  t.equal(v.messages[0].text.new_text, 5)
})

t.test('business-scoped user ids with or instead of phone numbers', async (t) => {
  const v = messagesOf(t, WEBHOOK_SAMPLES.inboundTextBsuidOnly)
  const m = v.messages![0]!
  t.equal(m.from, '')
  t.equal(m.from_user_id, FIXTURE_IDS.userBsuid)
  t.same(inboundSender(m, v.contacts), { waId: undefined, userId: FIXTURE_IDS.userBsuid, parentUserId: undefined, username: '@analima', profileName: 'Ana Lima', countryCode: 'BR' })
  const both = messagesOf(t, WEBHOOK_SAMPLES.inboundTextBsuidAndPhone)
  t.same(inboundSender(both.messages![0]!, both.contacts).waId, FIXTURE_IDS.userWaId)
  t.equal(inboundSender(both.messages![0]!, both.contacts).userId, FIXTURE_IDS.userBsuid)
  const st = messagesOf(t, WEBHOOK_SAMPLES.statusToBsuid).statuses![0]!
  t.equal(st.recipient_id, '')
  t.equal(st.recipient_user_id, FIXTURE_IDS.userBsuid)
  const echo = only(t, WEBHOOK_SAMPLES.echoToBsuid)
  if (echo.field === 'smb_message_echoes') {
    t.equal(echo.value.message_echoes[0]!.to, '')
    t.equal(echo.value.message_echoes[0]!.to_user_id, FIXTURE_IDS.userBsuid)
  } else t.fail('echo')
})

t.test('statuses: played, unknown values kept, pricing in both models', async (t) => {
  t.equal(messagesOf(t, WEBHOOK_SAMPLES.statusPlayed).statuses![0]!.status, 'played')
  t.equal(messagesOf(t, WEBHOOK_SAMPLES.statusUnknownValue).statuses![0]!.status, 'deleted')
  const odd = parseChangeValue('messages', { ...(WEBHOOK_SAMPLES.statusPlayed.entry[0]!.changes[0]!.value), statuses: [{ id: 'w', status: 'teleported', timestamp: 1, recipient_id: '1', pricing: { pricing_model: 'XYZ', category: 'holographic' } }] })
  t.ok(odd.ok, 'unknown status, model and category are kept')
  if (odd.ok && odd.field === 'messages') t.equal(odd.value.statuses![0]!.pricing!.category, 'holographic')
  const lite = messagesOf(t, WEBHOOK_SAMPLES.statusSentMarketingLite).statuses![0]!
  t.same(lite.pricing, { billable: true, pricing_model: 'PMP', type: 'regular', category: 'marketing_lite' })
  const fep = messagesOf(t, WEBHOOK_SAMPLES.statusSentFreeEntryPoint).statuses![0]!
  t.equal(fep.pricing?.category, 'referral_conversion')
  t.equal(fep.conversation?.origin?.type, 'referral_conversion')
  const cbp = messagesOf(t, WEBHOOK_SAMPLES.statusSentCbp).statuses![0]!
  t.equal(cbp.pricing?.pricing_model, 'CBP')
  t.ok(cbp.conversation?.expiration_timestamp)
  const failed = messagesOf(t, WEBHOOK_SAMPLES.statusFailedWindow).statuses![0]!
  t.equal(classifyMetaError(failed.errors![0]).kind, 'window_closed')
})

t.test('history: chunks, placeholders, follow-up media, declined', async (t) => {
  const c = only(t, WEBHOOK_SAMPLES.historyPhase1Chunk)
  if (c.field !== 'history') throw new Error('history')
  const chunk = c.value.history![0]!
  t.same(chunk.metadata, { phase: 1, chunk_order: 3, progress: 40 })
  const msgs = chunk.threads![0]!.messages
  t.equal(msgs[0]!.to, undefined, 'user→business has no to')
  t.equal(msgs[1]!.to, FIXTURE_IDS.userWaId)
  t.equal(msgs[2]!.type, 'media_placeholder')
  t.equal(msgs[3]!.history_context?.status, 'PLAYED')
  const d = only(t, WEBHOOK_SAMPLES.historyDeclined)
  if (d.field === 'history') t.equal(d.value.history![0]!.errors![0]!.code, 2593109)
  t.equal(classifyMetaError({ code: 2593109 }).kind, 'sync')
  const mu = only(t, WEBHOOK_SAMPLES.historyMediaFromUser)
  if (mu.field === 'history') t.equal(mu.value.messages![0]!.id, 'wamid.H_0004')
  const mb = only(t, WEBHOOK_SAMPLES.historyMediaFromBusiness)
  if (mb.field === 'history') t.equal(mb.value.message_echoes![0]!.id, 'wamid.H_0003')
  const bad = parseChangeValue('history', { ...(c.value as object), history: [{ metadata: { phase: 1, chunk_order: 1, progress: 140 }, threads: [] }] })
  t.notOk(bad.ok, 'progress above 100 is refused')
})

t.test('contacts sync and account updates', async (t) => {
  const s = only(t, WEBHOOK_SAMPLES.stateSyncAddRemove)
  if (s.field !== 'smb_app_state_sync') throw new Error('sync')
  t.same(s.value.state_sync.map((i) => [i.action, i.contact?.phone_number, i.contact?.full_name]), [['add', FIXTURE_IDS.userWaId, 'Ana Lima'], ['remove', '5511955554444', undefined]])
  const removed = only(t, WEBHOOK_SAMPLES.accountPartnerRemovedInactivity)
  if (removed.field !== 'account_update') throw new Error('account')
  t.equal(removed.value.event, 'PARTNER_REMOVED')
  t.same(removed.value.disconnection_info, { reason: 'PRIMARY_INACTIVITY', initiated_by: 'SYSTEM' })
  const unknown = only(t, WEBHOOK_SAMPLES.accountUnknownEvent)
  t.equal(unknown.field === 'account_update' && unknown.value.event, 'SOMETHING_NEW')
  const tier = only(t, WEBHOOK_SAMPLES.accountVolumeTier)
  t.equal(tier.field === 'account_update' && tier.value.volume_tier_info?.tier, '25000001:50000000')
})

t.test('routing keys: phone number, WABA, partner events', async (t) => {
  const r = parseWebhook(JSON.stringify(WEBHOOK_SAMPLES.batchMixed))
  if (!r.ok) throw new Error('batch')
  t.same(r.changes.map((c) => c.routing.key), [FIXTURE_IDS.phoneNumberId, FIXTURE_IDS.phoneNumberId, FIXTURE_IDS.phoneNumberId])
  const partner = parseWebhook(WEBHOOK_SAMPLES.accountPartnerAdded)
  if (!partner.ok) throw new Error('partner')
  const pr = partner.changes[0]!.routing
  t.equal(pr.entryId, FIXTURE_IDS.partnerBusinessId)
  t.equal(pr.wabaId, FIXTURE_IDS.wabaId, 'PARTNER_* routes by waba_info.waba_id')
  t.equal(pr.key, FIXTURE_IDS.wabaId)
  t.equal(pr.phoneNumberId, undefined)
  const off = parseWebhook(WEBHOOK_SAMPLES.accountOffboarded)
  if (off.ok) t.equal(off.changes[0]!.routing.key, FIXTURE_IDS.wabaId)
  const q = parseWebhook(WEBHOOK_SAMPLES.phoneQualityThroughput)
  if (q.ok) {
    t.equal(q.changes[0]!.routing.key, FIXTURE_IDS.wabaId)
    t.equal(q.changes[0]!.routing.displayPhoneNumber, FIXTURE_IDS.displayPhoneNumber)
  }
  t.same(changeRoutingKeys('E', 'account_update', null), { key: 'E', phoneNumberId: undefined, wabaId: 'E', entryId: 'E', displayPhoneNumber: undefined })
  t.equal(changeRoutingKeys('E', 'messages', { metadata: { phone_number_id: 5 } }).key, 'E', 'a non-string phone_number_id is ignored')
  t.equal(changeRoutingKeys('E', 'messages', { metadata: { phone_number_id: '' } }).key, 'E')
  t.equal(changeRoutingKeys('E', 'history', { waba_info: { waba_id: 'W' } }).key, 'E', 'waba_info only counts on account_update')
  const au = accountUpdateWebhook('PARTNER_REMOVED', { wabaId: '111', entryId: '999' })
  t.equal(changeRoutingKeys(au.entry[0]!.id, 'account_update', au.entry[0]!.changes[0]!.value).wabaId, '111')
})

t.test('bad input never throws: malformed JSON, wrong types, odd and huge bodies', async (t) => {
  const cases: unknown[] = [
    '', '{', 'null', '[]', '"x"', '42', 'true', '{"object":1}', '{"entry":{}}', '{"object":"whatsapp_business_account","entry":[{"changes":[]}]}',
    '{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"value":{}}]}]}',
    Buffer.from([0xff, 0xfe, 0x00, 0x7b]), Buffer.alloc(0), null, undefined, 12, [], { entry: null }, new Uint8Array([123, 125]),
    '{"a":' + '['.repeat(100000) + ']'.repeat(100000) + '}',
    '{"__proto__":{"polluted":true},"object":"whatsapp_business_account","entry":[]}'
  ]
  for (const c of cases) {
    const r = parseEnvelope(c)
    t.equal(typeof r.ok, 'boolean')
  }
  t.equal(({} as any).polluted, undefined, 'no prototype pollution')
  const r1 = parseEnvelope('{')
  t.equal(!r1.ok && r1.error.kind, 'invalid_json')
  const r2 = parseEnvelope('{"object":1}')
  t.equal(!r2.ok && r2.error.kind, 'invalid_envelope')
  const big = Buffer.alloc(17 * 1024 * 1024, 0x20)
  const r3 = parseEnvelope(big)
  t.equal(!r3.ok && r3.error.kind, 'too_large')
  const r4 = parseEnvelope(JSON.stringify(WEBHOOK_SAMPLES.inboundText), { maxBytes: 10 })
  t.equal(!r4.ok && r4.error.kind, 'too_large')

  // A large but legal body: 5000 messages in one change.
  const many = inboundTextWebhook({ wamid: 'wamid.M0' }) as any
  const one = many.entry[0].changes[0].value.messages[0]
  many.entry[0].changes[0].value.messages = Array.from({ length: 5000 }, (_, i) => ({ ...one, id: `wamid.M${i}` }))
  const r5 = parseWebhook(Buffer.from(JSON.stringify(many)))
  t.ok(r5.ok && r5.changes[0]!.result.ok)

  // Wrong types inside values: typed errors with at most 20 issues.
  const wrong = inboundTextWebhook({ wamid: 'wamid.W' }) as any
  wrong.entry[0].changes[0].value.messages = Array.from({ length: 500 }, () => ({ id: 5, from: [], timestamp: {}, type: 'text', text: 'x' }))
  const r6 = parseWebhook(JSON.stringify(wrong))
  if (!r6.ok) throw new Error('envelope')
  const res = r6.changes[0]!.result
  t.notOk(res.ok)
  if (!res.ok) t.ok(res.error.issues!.length <= 20)

  for (const v of [null, 1, 'x', [], { messaging_product: 'whatsapp' }, { metadata: null }]) {
    for (const f of ['messages', 'history', 'smb_message_echoes', 'smb_app_state_sync', 'account_update', 'message_template_status_update', 'phone_number_quality_update', 'business_capability_update']) {
      const r = parseChangeValue(f, v)
      if (f === 'business_capability_update' && v !== null && typeof v === 'object' && !Array.isArray(v)) continue // every key optional
      t.notOk(r.ok, `${f} refuses ${JSON.stringify(v)}`)
    }
  }
})

t.test('unknown fields are reported as such', async (t) => {
  const r = parseChangeValue('user_preferences', {})
  t.same(r, { ok: false, field: 'user_preferences', error: { kind: 'unknown_field', message: 'no schema for webhook field "user_preferences"' } })
  t.notOk(isKnownWebhookField('__proto__'))
  t.notOk(isKnownWebhookField('toString'))
  t.ok(isKnownWebhookField('history'))
})

t.test('serializeLikeMeta escapes like Meta and round-trips', async (t) => {
  const s = serializeLikeMeta({ t: 'Olá 👍', u: 'https://x/y' })
  t.equal(s, '{"t":"Ol\\u00e1 \\ud83d\\udc4d","u":"https:\\/\\/x\\/y"}')
  t.same(JSON.parse(s), { t: 'Olá 👍', u: 'https://x/y' })
  t.throws(() => serializeLikeMeta(undefined))
})
