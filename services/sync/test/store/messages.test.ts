import t from 'tap'
import { sql } from '@coexist/db'
import { insertMessages, fillMediaPlaceholders, storeHistoryMedia, type MessageInput } from '../../src/store/messages.ts'
import { resolveContacts } from '../../src/store/contacts.ts'
import { seedNumber, testDb } from '../helpers.ts'

const msg = (over: Partial<MessageInput> & { wamid: string }): MessageInput => ({
  direction: 'inbound',
  source: 'customer',
  type: 'text',
  text: 'hi',
  content: { type: 'text', text: { body: 'hi' } },
  mediaId: null,
  mediaMimeType: null,
  mediaPending: false,
  contextWamid: null,
  referral: null,
  fromId: '5511988887777',
  toId: null,
  sentAt: new Date(1751400000_000),
  historyStatus: null,
  requestId: null,
  customer: { waId: '5511988887777', userId: null, profileName: 'Ana' },
  ...over
})

t.test('messages are stored once by wamid and folded into their conversation', async (t) => {
  const { db } = await testDb(t)
  const n = await seedNumber(db)
  const batch = [
    msg({ wamid: 'wamid.A', sentAt: new Date(1751400000_000) }),
    msg({ wamid: 'wamid.B', sentAt: new Date(1751400100_000), text: 'second' }),
    msg({ wamid: 'wamid.C', sentAt: new Date(1751400050_000), source: 'history', customer: { waId: '5511977776666', userId: null } })
  ]
  const first = await insertMessages(db, n, batch)
  t.equal(first.insertedCount, 3)
  t.equal(first.newHistoryThreads, 1)
  const again = await insertMessages(db, n, [...batch].reverse())
  t.equal(again.insertedCount, 0, 'duplicates add nothing')
  const convs = await db.selectFrom('conversations').selectAll().orderBy('message_count', 'desc').execute()
  t.equal(convs.length, 2)
  t.equal(convs[0]?.message_count, 2)
  t.equal(convs[0]?.last_message_wamid, 'wamid.B')
  t.equal(convs[0]?.last_message_preview, 'second')
  t.same(convs[0]?.last_inbound_at, new Date(1751400100_000))
  t.equal(convs[1]?.last_inbound_at, null, 'history never opens the service window')
  t.equal(convs[1]?.history_imported, true)
  const contact = await db.selectFrom('contacts').selectAll().where('wa_id', '=', '5511988887777').executeTakeFirstOrThrow()
  t.equal(contact.profile_name, 'Ana')
})

t.test('an echo hands the conversation to the app once; an older echo after a newer change does not', async (t) => {
  const { db } = await testDb(t)
  const n = await seedNumber(db)
  await insertMessages(db, n, [msg({ wamid: 'wamid.in' })])
  const echo = msg({ wamid: 'wamid.echo', direction: 'outbound', source: 'business_app', sentAt: new Date(1751400200_000) })
  const r = await insertMessages(db, n, [echo])
  t.equal(r.ownerChanges.length, 1)
  t.equal(r.ownerChanges[0]?.fromOwner, 'api')
  t.equal(r.ownerChanges[0]?.toOwner, 'app')
  const r2 = await insertMessages(db, n, [echo, msg({ wamid: 'wamid.echo2', direction: 'outbound', source: 'business_app', sentAt: new Date(1751400300_000) })])
  t.equal(r2.ownerChanges.length, 0, 'already app-owned: no new handover')
})

t.test('a user known by user id and later by phone becomes one contact with one conversation', async (t) => {
  const { db } = await testDb(t)
  const n = await seedNumber(db)
  await insertMessages(db, n, [msg({ wamid: 'wamid.u1', fromId: null, customer: { waId: null, userId: 'US.abc', username: 'ana' } })])
  await insertMessages(db, n, [msg({ wamid: 'wamid.p1', customer: { waId: '5511988887777', userId: null } })])
  t.equal((await db.selectFrom('contacts').select('id').execute()).length, 2, 'not linked yet')
  await insertMessages(db, n, [msg({ wamid: 'wamid.both', sentAt: new Date(1751400900_000), customer: { waId: '5511988887777', userId: 'US.abc' } })])
  const contacts = await db.selectFrom('contacts').selectAll().execute()
  t.equal(contacts.length, 1)
  t.equal(contacts[0]?.user_id, 'US.abc')
  t.equal(contacts[0]?.username, 'ana')
  const convs = await db.selectFrom('conversations').selectAll().execute()
  t.equal(convs.length, 1)
  t.equal(convs[0]?.message_count, 3)
  t.equal(convs[0]?.last_message_wamid, 'wamid.both')
  const msgs = await db.selectFrom('messages').select(['conversation_id']).distinct().execute()
  t.equal(msgs.length, 1, 'every message in the merged conversation')
  const again = await resolveContacts(db, n, [{ waId: null, userId: 'US.abc' }])
  t.equal(again.get('u:US.abc'), contacts[0]?.id, 'the user id alone finds the merged contact')
})

t.test('media placeholders are filled by the later media webhook, in either order', async (t) => {
  const { db } = await testDb(t)
  const n = await seedNumber(db)
  const placeholder = msg({ wamid: 'wamid.P', type: 'media_placeholder', text: null, content: { type: 'media_placeholder' }, source: 'history', mediaPending: true })
  await insertMessages(db, n, [placeholder])
  const media = msg({ wamid: 'wamid.P', type: 'image', text: 'this one', source: 'history', mediaId: '123', mediaMimeType: 'image/jpeg', content: { type: 'image' } })
  const filled = await fillMediaPlaceholders(db, n, [media])
  t.same([...filled], ['wamid.P'])
  const row = await db.selectFrom('messages').selectAll().where('wamid', '=', 'wamid.P').executeTakeFirstOrThrow()
  t.equal(row.type, 'image')
  t.equal(row.media_pending, false)
  t.equal(row.media_id, '123')
  // Media first, then the placeholder chunk: the placeholder changes nothing.
  const m2 = { ...media, wamid: 'wamid.Q' }
  t.equal((await fillMediaPlaceholders(db, n, [m2])).size, 0)
  await insertMessages(db, n, [m2])
  await insertMessages(db, n, [{ ...placeholder, wamid: 'wamid.Q' }])
  const q = await db.selectFrom('messages').selectAll().where('wamid', '=', 'wamid.Q').executeTakeFirstOrThrow()
  t.equal(q.type, 'image')
  const count = await sql<{ n: number }>`select count(*)::int as n from messages`.execute(db)
  t.equal(count.rows[0]?.n, 2)
})

t.test('history media racing its placeholder chunk in another transaction still fills it', async (t) => {
  const { db } = await testDb(t)
  const n = await seedNumber(db)
  const placeholder = msg({ wamid: 'wamid.R', type: 'media_placeholder', text: null, content: { type: 'media_placeholder' }, source: 'history', mediaPending: true })
  const media = msg({ wamid: 'wamid.R', type: 'image', text: 'late', source: 'history', mediaId: '777', mediaMimeType: 'image/jpeg', content: { type: 'image' } })
  let commitChunk = (): void => {}
  let chunkInserted = (): void => {}
  const inserted = new Promise<void>((resolve) => { chunkInserted = resolve })
  const chunk = db.transaction().execute(async (tx) => {
    await insertMessages(tx, n, [placeholder], { returnRows: false })
    chunkInserted()
    await new Promise<void>((resolve) => { commitChunk = resolve })
  })
  await inserted
  // The media's transaction starts while the placeholder is written but not committed: its fill
  // sees nothing, its insert waits on the placeholder's key.
  const stored = db.transaction().execute(async (tx) => await storeHistoryMedia(tx, n, [media]))
  await new Promise((resolve) => setTimeout(resolve, 200))
  commitChunk()
  await chunk
  t.same(await stored, { filled: 1, inserted: 0 })
  const row = await db.selectFrom('messages').selectAll().where('wamid', '=', 'wamid.R').executeTakeFirstOrThrow()
  t.equal(row.media_pending, false, 'not left pending')
  t.equal(row.media_id, '777')
  t.equal(row.type, 'image')
})
