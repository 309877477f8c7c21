/**
 * Query API for tenant keys (role `read`): numbers and their state, sync progress, conversations
 * (newest first, keyset cursor, filter by number), a conversation's messages, contacts with
 * search. Every query is scoped to the caller's tenant: another tenant's resource is a 404, never
 * a 403 (its existence is not revealed).
 */
import { z } from 'zod'
import { isUuid, sql, type Db } from '@coexist/db'
import { requireRole, requireTenantId, type FastifyPluginAsyncZod } from '@coexist/http'
import { SyncErrors } from '../errors.ts'
import { domainEvent, enqueueEvents } from '../store/outbox.ts'
import { decodeCursor, encodeCursor } from './cursor.ts'
import { ContactView, ConversationView, MessageView, NumberView, SyncView, page } from './schemas.ts'
import { loadNumberView, loadSyncView } from './views.ts'

export interface RecordsRoutesOptions {
  db: Db
  clock: () => Date
}

const TenantQuery = { tenant_id: z.uuid().optional().describe('required for admin keys') }
const Page = { limit: z.coerce.number().int().min(1).max(200).default(50), cursor: z.string().max(200).optional() }
const Id = z.string().min(1).max(64)

export const recordsRoutes: FastifyPluginAsyncZod<RecordsRoutesOptions> = async (app, opts) => {
  const { db, clock } = opts

  app.get('/v1/numbers', {
    schema: { tags: ['numbers'], summary: "The tenant's numbers and their state", querystring: z.object({ ...TenantQuery }), response: { 200: z.object({ data: z.array(NumberView) }) } }
  }, async (request) => {
    requireRole(request, 'read')
    const tenantId = requireTenantId(request, request.query.tenant_id)
    const ids = await db.selectFrom('phone_numbers').select('id').where('tenant_id', '=', tenantId).orderBy('created_at').orderBy('id').execute()
    const now = clock()
    return { data: await Promise.all(ids.map(async (r) => await loadNumberView(db, tenantId, r.id, now))) }
  })

  app.get('/v1/numbers/:id', {
    schema: { tags: ['numbers'], summary: 'A number and its state', params: z.object({ id: Id }), querystring: z.object({ ...TenantQuery }), response: { 200: NumberView } }
  }, async (request) => {
    requireRole(request, 'read')
    return await loadNumberView(db, requireTenantId(request, request.query.tenant_id), request.params.id, clock())
  })

  app.get('/v1/numbers/:id/sync', {
    schema: {
      tags: ['onboarding'],
      summary: 'Coexistence onboarding and sync: state, phase, progress %, counts, deadline',
      params: z.object({ id: Id }),
      querystring: z.object({ ...TenantQuery }),
      response: { 200: SyncView.extend({ phone_number_id: z.string() }) }
    }
  }, async (request) => {
    requireRole(request, 'read')
    const tenantId = requireTenantId(request, request.query.tenant_id)
    const n = await ownNumber(tenantId, request.params.id)
    const view = await loadSyncView(db, n, clock())
    if (view === null) throw SyncErrors.SYNC_NUMBER_NOT_FOUND.create({ message: 'this number has no coexistence onboarding' })
    return { phone_number_id: n, ...view }
  })

  async function ownNumber (tenantId: string, id: string): Promise<string> {
    if (!isUuid(tenantId)) throw SyncErrors.SYNC_NUMBER_NOT_FOUND.create()
    const n = await db.selectFrom('phone_numbers').select('id').where('id', '=', id).where('tenant_id', '=', tenantId).executeTakeFirst()
    if (n === undefined) throw SyncErrors.SYNC_NUMBER_NOT_FOUND.create()
    return n.id
  }

  app.get('/v1/conversations', {
    schema: {
      tags: ['conversations'],
      summary: 'Conversations, newest first',
      querystring: z.object({ ...TenantQuery, ...Page, phone_number_id: Id.optional(), owner: z.enum(['api', 'app']).optional() }),
      response: { 200: page(ConversationView) }
    }
  }, async (request) => {
    requireRole(request, 'read')
    const tenantId = requireTenantId(request, request.query.tenant_id)
    const q = request.query
    const after = q.cursor !== undefined ? decodeCursor(q.cursor) : undefined
    if (after !== undefined && !isUuid(after.id)) throw SyncErrors.SYNC_CURSOR_INVALID.create({ detail: { field: 'cursor' } })
    let query = db.selectFrom('conversations as c').innerJoin('contacts as k', 'k.id', 'c.contact_id')
      .select(['c.id', 'c.phone_number_id', 'c.last_message_at', 'c.last_message_wamid', 'c.last_message_direction', 'c.last_message_preview',
        'c.last_inbound_at', 'c.message_count', 'c.owner', 'c.owner_changed_at', 'c.created_at',
        'k.id as contact_id', 'k.wa_id', 'k.user_id', 'k.username', 'k.profile_name', 'k.full_name'])
      .where('c.tenant_id', '=', tenantId).where('c.last_message_at', 'is not', null)
    if (q.phone_number_id !== undefined) query = query.where('c.phone_number_id', '=', q.phone_number_id)
    if (q.owner !== undefined) query = query.where('c.owner', '=', q.owner)
    if (after !== undefined) query = query.where(sql<boolean>`(c.last_message_at, c.id) < (${after.at}, ${after.id}::uuid)`)
    const rows = await query.orderBy('c.last_message_at', 'desc').orderBy('c.id', 'desc').limit(q.limit + 1).execute()
    const page = rows.slice(0, q.limit)
    const last = page[page.length - 1]
    const now = clock().getTime()
    return {
      data: page.map((c) => ({
        id: c.id,
        phone_number_id: c.phone_number_id,
        contact: { id: c.contact_id, wa_id: c.wa_id, user_id: c.user_id, username: c.username, name: c.full_name ?? c.profile_name },
        last_message: { wamid: c.last_message_wamid, at: c.last_message_at?.toISOString() ?? null, direction: c.last_message_direction, preview: c.last_message_preview },
        last_inbound_at: c.last_inbound_at?.toISOString() ?? null,
        service_window_open: c.last_inbound_at !== null && now - c.last_inbound_at.getTime() < 24 * 3600 * 1000,
        message_count: c.message_count,
        owner: c.owner,
        owner_changed_at: c.owner_changed_at?.toISOString() ?? null
      })),
      next_cursor: rows.length > q.limit && last?.last_message_at != null ? encodeCursor(last.last_message_at, last.id) : null
    }
  })

  app.get('/v1/conversations/:id/messages', {
    schema: {
      tags: ['conversations'],
      summary: "A conversation's messages, newest first",
      params: z.object({ id: z.string().max(64) }),
      querystring: z.object({ ...TenantQuery, ...Page }),
      response: { 200: page(MessageView) }
    }
  }, async (request) => {
    requireRole(request, 'read')
    const tenantId = requireTenantId(request, request.query.tenant_id)
    const id = request.params.id
    if (!isUuid(id) || !isUuid(tenantId)) throw SyncErrors.SYNC_CONVERSATION_NOT_FOUND.create()
    const conv = await db.selectFrom('conversations').select(['id', 'phone_number_id']).where('id', '=', id).where('tenant_id', '=', tenantId).executeTakeFirst()
    if (conv === undefined) throw SyncErrors.SYNC_CONVERSATION_NOT_FOUND.create()
    const q = request.query
    const after = q.cursor !== undefined ? decodeCursor(q.cursor) : undefined
    if (after !== undefined && !/^\d{1,19}$/.test(after.id)) throw SyncErrors.SYNC_CURSOR_INVALID.create({ detail: { field: 'cursor' } })
    let query = db.selectFrom('messages as m')
      .leftJoin('delivery_states as d', (j) => j.onRef('d.phone_number_id', '=', 'm.phone_number_id').onRef('d.wamid', '=', 'm.wamid'))
      .select(['m.id', 'm.wamid', 'm.direction', 'm.source', 'm.type', 'm.text', 'm.content', 'm.media_id', 'm.media_mime_type', 'm.media_pending',
        'm.context_wamid', 'm.referral', 'm.from_id', 'm.to_id', 'm.sent_at', 'm.history_status', 'm.request_id',
        'd.status', 'd.status_at', 'd.error_code', 'd.error_title'])
      .where('m.conversation_id', '=', conv.id)
    if (after !== undefined) query = query.where(sql<boolean>`(m.sent_at, m.id) < (${after.at}, ${after.id}::bigint)`)
    const rows = await query.orderBy('m.sent_at', 'desc').orderBy('m.id', 'desc').limit(q.limit + 1).execute()
    const page = rows.slice(0, q.limit)
    const last = page[page.length - 1]
    return {
      data: page.map((m) => ({
        wamid: m.wamid,
        direction: m.direction,
        source: m.source,
        type: m.type,
        text: m.text,
        content: m.content,
        media: m.media_id !== null || m.media_pending ? { id: m.media_id, mime_type: m.media_mime_type, pending: m.media_pending } : null,
        context_wamid: m.context_wamid,
        referral: m.referral,
        from: m.from_id,
        to: m.to_id,
        sent_at: m.sent_at.toISOString(),
        status: m.status ?? (m.source === 'history' ? m.history_status?.toLowerCase() ?? null : null),
        status_at: m.status_at?.toISOString() ?? null,
        error: m.error_code !== null ? { code: m.error_code, title: m.error_title } : null,
        request_id: m.request_id
      })),
      next_cursor: rows.length > q.limit && last !== undefined ? encodeCursor(last.sent_at, last.id) : null
    }
  })

  app.get('/v1/contacts', {
    schema: {
      tags: ['contacts'],
      summary: 'Contacts, with search by name, phone, user id or username',
      querystring: z.object({ ...TenantQuery, ...Page, phone_number_id: Id.optional(), q: z.string().trim().min(1).max(100).optional(), in_address_book: z.enum(['true', 'false']).optional() }),
      response: { 200: page(ContactView) }
    }
  }, async (request) => {
    requireRole(request, 'read')
    const tenantId = requireTenantId(request, request.query.tenant_id)
    const q = request.query
    const after = q.cursor !== undefined ? decodeCursor(q.cursor) : undefined
    if (after !== undefined && !isUuid(after.id)) throw SyncErrors.SYNC_CURSOR_INVALID.create({ detail: { field: 'cursor' } })
    let query = db.selectFrom('contacts')
      .select(['id', 'phone_number_id', 'wa_id', 'user_id', 'username', 'profile_name', 'full_name', 'first_name', 'in_address_book', 'created_at', 'updated_at'])
      .where('tenant_id', '=', tenantId)
    if (q.phone_number_id !== undefined) query = query.where('phone_number_id', '=', q.phone_number_id)
    if (q.in_address_book !== undefined) query = query.where('in_address_book', '=', q.in_address_book === 'true')
    if (q.q !== undefined) {
      const like = '%' + q.q.replace(/[\\%_]/g, (c) => '\\' + c) + '%'
      query = query.where((eb) => eb.or([eb('full_name', 'ilike', like), eb('profile_name', 'ilike', like), eb('first_name', 'ilike', like),
        eb('wa_id', 'like', like), eb('user_id', 'ilike', like), eb('username', 'ilike', like)]))
    }
    if (after !== undefined) query = query.where(sql<boolean>`(created_at, id) < (${after.at}, ${after.id}::uuid)`)
    const rows = await query.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(q.limit + 1).execute()
    const page = rows.slice(0, q.limit)
    const last = page[page.length - 1]
    return {
      data: page.map((c) => ({ ...c, name: c.full_name ?? c.profile_name, created_at: c.created_at.toISOString(), updated_at: c.updated_at.toISOString() })),
      next_cursor: rows.length > q.limit && last !== undefined ? encodeCursor(last.created_at, last.id) : null
    }
  })

  app.post('/v1/conversations/:id/owner', {
    schema: {
      tags: ['conversations'],
      summary: 'Hand a conversation back to the API side (bots) or to the app',
      params: z.object({ id: z.string().max(64) }),
      querystring: z.object({ ...TenantQuery }),
      body: z.object({ owner: z.enum(['api', 'app']) })
    }
  }, async (request) => {
    requireRole(request, 'send')
    const tenantId = requireTenantId(request, request.query.tenant_id)
    if (!isUuid(request.params.id) || !isUuid(tenantId)) throw SyncErrors.SYNC_CONVERSATION_NOT_FOUND.create()
    const now = clock()
    const r = await db.transaction().execute(async (tx) => {
      const before = await tx.selectFrom('conversations as c').innerJoin('contacts as k', 'k.id', 'c.contact_id').innerJoin('phone_numbers as p', 'p.id', 'c.phone_number_id')
        .select(['c.id', 'c.owner', 'c.phone_number_id', 'p.waba_id', 'k.wa_id', 'k.user_id'])
        .where('c.id', '=', request.params.id).where('c.tenant_id', '=', tenantId).forUpdate('c').executeTakeFirst()
      if (before === undefined) return undefined
      const after = await tx.updateTable('conversations').set({ owner: request.body.owner, owner_changed_at: now, updated_at: now })
        .where('id', '=', before.id).returning(['id', 'owner', 'owner_changed_at']).executeTakeFirstOrThrow()
      if (before.owner !== after.owner) {
        await enqueueEvents(tx, [domainEvent({ tenantId, phoneNumberId: before.phone_number_id, wabaId: before.waba_id }, `handover:${before.id}:${now.getTime()}`, now,
          'conversationHandover', { conversationId: before.id, waId: before.wa_id ?? '', userId: before.user_id ?? '', fromOwner: before.owner, toOwner: after.owner, reason: 'api_request' })])
      }
      return after
    })
    if (r === undefined) throw SyncErrors.SYNC_CONVERSATION_NOT_FOUND.create()
    return { id: r.id, owner: r.owner, owner_changed_at: r.owner_changed_at?.toISOString() ?? null }
  })
}
