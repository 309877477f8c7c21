import t from 'tap'
import { sql, type Db } from '@coexist/db'
import {
  accountUpdateWebhook, appStateSyncWebhook, echoWebhook, historyChunkWebhook, historyMediaWebhook, historyThread,
  inboundMediaWebhook, inboundReactionWebhook, inboundTextWebhook, statusWebhook
} from '@coexist/meta/fixtures'
import { seedNumber } from '../helpers.ts'
import { type WebhookBodyLike } from '@coexist/testkit'
import { syncEnv, until } from '../harness.ts'

/** Everything sync stores, in a stable order, for before/after comparisons. */
async function snapshot (db: Db): Promise<string> {
  const tables = ['contacts', 'conversations', 'messages', 'message_statuses', 'delivery_states', 'history_chunks', 'onboardings', 'number_lifecycle', 'account_events']
  const out: Record<string, unknown> = {}
  for (const table of tables) {
    out[table] = (await sql<{ j: unknown }>`SELECT to_jsonb(x) - 'received_at' AS j FROM ${sql.table(table)} x ORDER BY to_jsonb(x)::text`.execute(db)).rows.map((r) => r.j)
  }
  return JSON.stringify(out)
}

function shuffle<T> (items: T[], seed: number): T[] {
  let s = seed
  const rnd = (): number => { s = (s * 1103515245 + 12345) % 2 ** 31; return s / 2 ** 31 }
  const a = [...items]
  for (let i = a.length - 1; i > 0; i--) { const j = Math.floor(rnd() * (i + 1)); [a[i], a[j]] = [a[j] as T, a[i] as T] }
  return a
}

t.test('each webhook delivered three times, shuffled, gives exactly one row each; statuses end right; a replay gives the same database', async (t) => {
  const env = await syncEnv(t, { partitions: 3, runtime: false })
  const n = await seedNumber(env.db, { display: '5511999990000' })
  const scope = { phoneNumberId: n.phoneNumberId, wabaId: n.wabaId, displayPhoneNumber: n.display }
  await sql`INSERT INTO onboardings (tenant_id, phone_number_id, generation, state, source, onboarded_at, deadline_at)
    VALUES (${n.tenantId}::uuid, ${n.phoneNumberId}, 1, 'history_sync_requested', 'api', now(), now() + interval '1 day')`.execute(env.db)

  const bodies: WebhookBodyLike[] = []
  for (let i = 0; i < 20; i++) bodies.push(inboundTextWebhook({ ...scope, from: `55119000000${String(i % 7).padStart(2, '0')}`, wamid: `wamid.IN_${i}`, timestamp: 1751400000 + i, body: `hi ${i}` }))
  bodies.push(inboundMediaWebhook({ ...scope, wamid: 'wamid.IMG', kind: 'image', caption: 'photo' }))
  bodies.push(inboundReactionWebhook({ ...scope, wamid: 'wamid.REACT', messageId: 'wamid.OUT_1', emoji: '👍' }))
  for (let i = 0; i < 5; i++) bodies.push(echoWebhook({ ...scope, wamid: `wamid.ECHO_${i}`, to: '5511900000001', timestamp: 1751400100 + i }))
  // Out-of-order statuses: OUT_1 ends read (a late sent changes nothing); OUT_2 fails with its error; OUT_3 gets an unknown status.
  for (const [w, st, ts] of [['wamid.OUT_1', 'read', 3], ['wamid.OUT_1', 'sent', 1], ['wamid.OUT_1', 'delivered', 2], ['wamid.OUT_2', 'sent', 1], ['wamid.OUT_3', 'delivered', 2], ['wamid.OUT_3', 'deleted', 3]] as const) {
    bodies.push(statusWebhook({ ...scope, wamid: w, status: st, timestamp: 1751400200 + ts, pricing: { billable: true, pricing_model: 'PMP', type: 'regular', category: 'utility' } }))
  }
  bodies.push(statusWebhook({ ...scope, wamid: 'wamid.OUT_2', status: 'failed', timestamp: 1751400205, errors: [{ code: 131047, title: 'Re-engagement message' }] }))
  bodies.push(appStateSyncWebhook({ ...scope, items: [{ action: 'add', phoneNumber: '5511900000002', fullName: 'Bia Souza', timestamp: 1751400300 }, { action: 'add', phoneNumber: '5511900000003', fullName: 'Caio', timestamp: 1751400301 }] }))
  bodies.push(appStateSyncWebhook({ ...scope, items: [{ action: 'remove', phoneNumber: '5511900000003', timestamp: 1751400302 }] }))
  for (let c = 0; c < 4; c++) {
    bodies.push(historyChunkWebhook({
      ...scope,
      phase: 1,
      chunkOrder: c,
      progress: c === 3 ? 100 : 25 * (c + 1),
      threads: [0, 1, 2].map((th) => historyThread({ userWaId: `55118000000${th}`, businessNumber: n.display, messages: Array.from({ length: 10 }, (_, m) => ({ direction: m % 2 === 0 ? 'in' as const : 'out' as const, wamid: `wamid.H_${c}_${th}_${m}`, timestamp: 1745000000 + c * 1000 + m, body: 'old', placeholder: m === 9 })) }))
    }))
  }
  bodies.push(historyMediaWebhook({ ...scope, wamid: 'wamid.H_0_0_9', direction: 'out', mediaId: '777' }))
  bodies.push(accountUpdateWebhook('ACCOUNT_OFFBOARDED', { wabaId: n.wabaId, time: 1751500000 }))

  const deliveries = shuffle([...bodies, ...bodies, ...bodies], 42)
  for (const b of deliveries) await env.publishBody(b)
  await env.startRuntime()
  await env.caughtUp(env.groupId)

  const count = async (q: string): Promise<number> => (await sql<{ n: number }>`SELECT count(*)::int AS n FROM ${sql.raw(q)}`.execute(env.db)).rows[0]?.n ?? -1
  t.equal(await count('messages WHERE source = \'customer\''), 22, 'one row per inbound message')
  t.equal(await count('messages WHERE source = \'business_app\''), 5, 'one row per echo')
  t.equal(await count('messages WHERE source = \'history\''), 120, 'one row per history message')
  t.equal(await count('messages WHERE media_pending'), 11, 'placeholders kept; the one with media filled')
  t.equal(await count('history_chunks'), 4)
  t.equal(await count('message_statuses'), 7, 'one audit row per (wamid, status)')
  const states = await env.db.selectFrom('delivery_states').select(['wamid', 'status', 'error_code']).orderBy('wamid').execute()
  t.same(states, [
    { wamid: 'wamid.OUT_1', status: 'read', error_code: null },
    { wamid: 'wamid.OUT_2', status: 'failed', error_code: 131047 },
    { wamid: 'wamid.OUT_3', status: 'delivered', error_code: null }
  ], 'statuses never regress; failed keeps its error; unknown statuses are not applied')
  const ob = await env.db.selectFrom('onboardings').selectAll().executeTakeFirstOrThrow()
  t.equal(ob.history_messages, 120)
  t.equal(ob.history_chunks, 4)
  t.equal(ob.history_threads, 3)
  t.equal(ob.state, 'complete')
  const book = await env.db.selectFrom('contacts').select(['wa_id', 'in_address_book', 'full_name']).where('wa_id', 'in', ['5511900000002', '5511900000003']).orderBy('wa_id').execute()
  t.same(book.map((c) => c.in_address_book), [true, false], 'the later remove wins')
  const conv = await env.db.selectFrom('conversations').innerJoin('contacts', 'contacts.id', 'conversations.contact_id')
    .select(['conversations.owner', 'conversations.message_count']).where('contacts.wa_id', '=', '5511900000001').executeTakeFirstOrThrow()
  t.equal(conv.owner, 'app', 'echoes hand the conversation to the app')
  const num = await env.db.selectFrom('phone_numbers').select('status').where('id', '=', n.phoneNumberId).executeTakeFirstOrThrow()
  t.equal(num.status, 'suspended', 'ACCOUNT_OFFBOARDED suspends the number')

  // Events: one per change, however often the webhook came.
  await until(async () => (await count('event_outbox')) === 0, 10_000, 'outbox drained')
  const published = await env.readRaw('events', 1)
  const events = await env.readEvents(published.length)
  t.same([...new Set(events.map((e) => e.event.case))].sort(), ['contactSynced', 'conversationHandover', 'historyProgress', 'messageEchoed', 'messageReceived',
    'numberLifecycleChanged', 'onboardingStateChanged', 'statusChanged'], 'every kind of change is announced')
  t.equal(new Set(events.map((e) => e.eventId)).size, events.length, 'each fact once, though every webhook came three times')
  t.equal(events.filter((e) => e.event.case === 'messageReceived').length, 22)
  // Per message, status events only ever move forward and end at the stored status.
  const moves = new Map<string, number[]>()
  for (const e of events) if (e.event.case === 'statusChanged') moves.set(e.event.value.wamid, [...(moves.get(e.event.value.wamid) ?? []), e.event.value.status])
  t.same([...moves.keys()].sort(), ['wamid.OUT_1', 'wamid.OUT_2', 'wamid.OUT_3'])
  for (const [wamid, seq] of moves) t.ok(seq.every((v, i) => i === 0 || v > (seq[i - 1] as number)), `${wamid} never moves backwards`)
  t.same([...moves.entries()].sort((a, b) => a[0] < b[0] ? -1 : 1).map(([, seq]) => seq[seq.length - 1]), [3, 5, 2], 'and ends read / failed / delivered')
  t.ok(events.every((e) => e.phoneNumberId === n.phoneNumberId && e.tenantId === n.tenantId && e.wabaId === n.wabaId))
  t.ok(published.every((r) => r.key === n.phoneNumberId && r.headers['event-type'] !== undefined && r.headers['tenant-id'] === n.tenantId), 'keyed by phone_number_id, with headers')

  // A value that is not Meta's shape, and a webhook for a number we do not know: dead-lettered with the reason.
  await env.publishBody({ object: 'whatsapp_business_account', entry: [{ id: n.wabaId, changes: [{ field: 'messages', value: { messaging_product: 'whatsapp', metadata: { phone_number_id: n.phoneNumberId, display_phone_number: n.display }, messages: [{ id: 'x' }] } }] }] })
  await env.publishBody(inboundTextWebhook({ phoneNumberId: '629999999999999', wabaId: n.wabaId, wamid: 'wamid.STRANGER' }))
  const dead = await env.readRaw('deadletter', 2)
  t.same(dead.map((d) => d.headers['dead-letter-error-code']).sort(), ['SYNC_RECORD_INVALID', 'SYNC_UNKNOWN_NUMBER'])
  await env.caughtUp(env.groupId)
  const before = await snapshot(env.db)
  const metrics = (await env.app.inject({ method: 'GET', url: '/metrics' })).body
  t.match(metrics, /sync_outbox_pending 0/)
  t.match(metrics, /sync_messages_stored_total\{field="messages"\} 22/, 'stored counts exclude duplicates')
  t.match(metrics, /sync_consumer_records_total\{topic="[^"]*webhook\.history\.v1",outcome="ok"\} 15/, 'every delivery handled (4 chunks and a media webhook, three times each)')
  t.match(metrics, /sync_dead_letters_total\{topic="[^"]*webhook\.messages\.v1",reason="handler"\} 2/, 'the invalid value and the unknown number')

  // Replay every topic from the start with a new group: nothing changes.
  await env.runtime?.stop()
  await env.startRuntime()
  await env.caughtUp(env.groupId)
  const after = await snapshot(env.db)
  if (after !== before) {
    const a = JSON.parse(after) as Record<string, unknown[]>
    const b = JSON.parse(before) as Record<string, unknown[]>
    for (const k of Object.keys(a)) {
      const bs = new Set((b[k] ?? []).map((x) => JSON.stringify(x)))
      for (const row of a[k] ?? []) if (!bs.has(JSON.stringify(row))) t.comment(`changed ${k}: ${JSON.stringify(row).slice(0, 600)}`)
    }
  }
  t.equal(after, before, 'a replay gives the same database')
  t.equal(await count('event_outbox'), 0, 'and writes no new event')
})

t.test('a history chunk redelivered after a crash mid-import adds nothing twice', async (t) => {
  const env = await syncEnv(t, { runtime: false })
  const n = await seedNumber(env.db, { display: '5511999990000' })
  const scope = { phoneNumberId: n.phoneNumberId, wabaId: n.wabaId, displayPhoneNumber: n.display }
  await sql`INSERT INTO onboardings (tenant_id, phone_number_id, generation, state, source, onboarded_at, deadline_at)
    VALUES (${n.tenantId}::uuid, ${n.phoneNumberId}, 1, 'history_sync_requested', 'api', now(), now() + interval '1 day')`.execute(env.db)
  // The first import dies after its messages were written, before the transaction ends (as a
  // crash would): a real Postgres trigger raises once, mid-statement.
  await sql`CREATE SEQUENCE crash_once`.execute(env.db)
  await sql`CREATE FUNCTION crash_mid_import() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN IF nextval('crash_once') = 1 THEN RAISE EXCEPTION 'simulated crash mid-import'; END IF; RETURN NULL; END $$`.execute(env.db)
  await sql`CREATE TRIGGER crash_mid_import AFTER INSERT ON messages FOR EACH STATEMENT EXECUTE FUNCTION crash_mid_import()`.execute(env.db)

  const chunk = historyChunkWebhook({
    ...scope,
    phase: 2,
    chunkOrder: 7,
    progress: 60,
    threads: Array.from({ length: 5 }, (_, th) => historyThread({ userWaId: `55117000000${th}`, businessNumber: n.display, messages: Array.from({ length: 40 }, (_, m) => ({ direction: 'in' as const, wamid: `wamid.C_${th}_${m}`, timestamp: 1740000000 + m })) }))
  })
  await env.publishBody(chunk)
  await env.startRuntime()
  await env.caughtUp(env.groupId)
  t.equal((await sql<{ v: number }>`SELECT last_value::int AS v FROM crash_once`.execute(env.db)).rows[0]?.v, 2, 'the first attempt crashed, the second went through')
  // Crash after the commit, before the offset: the same chunk comes again.
  await env.publishBody(chunk)
  await env.caughtUp(env.groupId)
  const ob = await env.db.selectFrom('onboardings').selectAll().executeTakeFirstOrThrow()
  t.equal(ob.history_messages, 200)
  t.equal(ob.history_chunks, 1)
  t.equal(ob.history_threads, 5)
  t.equal((await sql<{ n: number }>`SELECT count(*)::int AS n FROM messages`.execute(env.db)).rows[0]?.n, 200)
  t.equal((await sql<{ n: number }>`SELECT sum(message_count)::int AS n FROM conversations`.execute(env.db)).rows[0]?.n, 200)
  await env.runtime?.relay.drain()
  const progress = (await env.readEvents(2)).filter((e) => e.event.case === 'historyProgress')
  t.equal(progress.length, 1, 'one HistoryProgress event for the chunk')
})
