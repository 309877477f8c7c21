/**
 * Accounts API: tenants and their API keys (admin), WABAs and phone numbers (admin, or a tenant
 * key with the `manage` role). Tokens are encrypted at rest by the db package's cipher and never
 * returned; registering a number subscribes our app to its WABA and, for a coexistence number,
 * starts the onboarding (refused with a clear reason where Meta does not offer coexistence).
 */
import { z } from 'zod'
import { createApiKey, createPhoneNumber, createTenant, getTenant, getTenantPhoneNumber, listTenants, updatePhoneNumber, upsertWaba, getTenantWaba, sql, type Db, type TokenCipher } from '@coexist/db'
import { requireRole, requireTenantId, type FastifyPluginAsyncZod } from '@coexist/http'
import type { GraphClient } from '@coexist/meta'
import { unsupportedCoexistenceCountry } from '../domain/coexistence-countries.ts'
import { SyncErrors } from '../errors.ts'
import { currentOnboarding, startOnboarding } from '../store/onboarding.ts'
import { loadNumberView } from './views.ts'

export interface AccountsRoutesOptions {
  db: Db
  cipher: TokenCipher
  graph: Pick<GraphClient, 'subscribeApp'>
  clock: () => Date
  /** Called when an onboarding starts (the sync requester runs at once). */
  onOnboarding?: () => void
}

const Token = z.string().min(8).max(4096).describe('Meta business access token; stored encrypted, never returned')
const TenantIdQuery = z.object({ tenant_id: z.uuid().optional().describe('required for admin keys') })

export const accountsRoutes: FastifyPluginAsyncZod<AccountsRoutesOptions> = async (app, opts) => {
  const { db, cipher, graph, clock } = opts

  app.post('/v1/tenants', {
    config: { auth: 'admin' },
    schema: { tags: ['accounts'], summary: 'Create a tenant', body: z.object({ name: z.string().trim().min(1).max(200) }) }
  }, async (request, reply) => reply.code(201).send(await createTenant(db, { name: request.body.name })))

  app.get('/v1/tenants', { config: { auth: 'admin' }, schema: { tags: ['accounts'], summary: 'List tenants' } },
    async () => ({ data: await listTenants(db) }))

  app.post('/v1/tenants/:tenantId/api-keys', {
    schema: {
      tags: ['accounts'],
      summary: 'Create an API key for a tenant (the key is shown once)',
      params: z.object({ tenantId: z.uuid() }),
      body: z.object({ name: z.string().trim().min(1).max(200), roles: z.array(z.enum(['admin', 'manage', 'send', 'read'])).min(1) })
    }
  }, async (request, reply) => {
    const tenantId = requireTenantId(request, request.params.tenantId)
    requireRole(request, 'admin')
    if (await getTenant(db, tenantId) === undefined) throw SyncErrors.SYNC_TENANT_NOT_FOUND.create()
    const key = await createApiKey(db, { tenantId, name: request.body.name, roles: request.body.roles })
    return reply.code(201).send({ id: key.id, key: key.key, prefix: key.prefix, roles: request.body.roles, tenant_id: tenantId })
  })

  app.post('/v1/wabas', {
    schema: {
      tags: ['accounts'],
      summary: 'Register a WABA; with a token, subscribe our app to its webhooks',
      querystring: TenantIdQuery,
      body: z.object({
        id: z.string().regex(/^\d{1,32}$/),
        name: z.string().max(200).optional(),
        currency: z.string().regex(/^[A-Z]{3}$/).optional(),
        timezone: z.string().max(64).optional(),
        access_token: Token.optional()
      })
    }
  }, async (request, reply) => {
    requireRole(request, 'manage')
    const tenantId = requireTenantId(request, request.query.tenant_id)
    const b = request.body
    const waba = await upsertWaba(db, { id: b.id, tenantId, name: b.name, currency: b.currency, timezone: b.timezone })
    const subscription = b.access_token !== undefined ? await subscribe(b.id, b.access_token) : undefined
    return reply.code(201).send({ ...waba, subscribed: subscription?.ok ?? false, subscribe_error: subscription?.error ?? null })
  })

  async function subscribe (wabaId: string, token: string): Promise<{ ok: boolean, error: string | null }> {
    let error: string | null = null
    try {
      await graph.subscribeApp(wabaId, token)
    } catch (err) {
      error = (err instanceof Error ? err.message : String(err)).slice(0, 500)
    }
    await sql`
      INSERT INTO waba_subscriptions (waba_id, subscribed_at, last_error, updated_at) VALUES (${wabaId}, ${error === null ? clock() : null}, ${error}, now())
      ON CONFLICT (waba_id) DO UPDATE SET subscribed_at = COALESCE(excluded.subscribed_at, waba_subscriptions.subscribed_at), last_error = excluded.last_error, updated_at = now()`.execute(db)
    return { ok: error === null, error }
  }

  app.post('/v1/numbers', {
    schema: {
      tags: ['accounts'],
      summary: 'Register a phone number (and start coexistence onboarding)',
      querystring: TenantIdQuery,
      body: z.object({
        id: z.string().regex(/^\d{1,32}$/).describe("Meta's phone_number_id"),
        waba_id: z.string().regex(/^\d{1,32}$/),
        display_phone_number: z.string().regex(/^\+?[\d\s().-]{6,32}$/),
        mode: z.enum(['cloud_api', 'coexistence']),
        throughput_mps: z.number().int().min(1).max(1000).optional().describe('cloud_api: 80 default, up to 1000; coexistence: 20 default, or 5'),
        access_token: Token,
        onboarded_at: z.iso.datetime({ offset: true }).optional().describe('when the business finished Embedded Signup (default: now)')
      })
    }
  }, async (request, reply) => {
    requireRole(request, 'manage')
    const tenantId = requireTenantId(request, request.query.tenant_id)
    const b = request.body
    if (b.mode === 'coexistence') {
      const refused = unsupportedCoexistenceCountry(b.display_phone_number)
      if (refused !== undefined) {
        throw SyncErrors.SYNC_COUNTRY_UNSUPPORTED.create({
          message: `coexistence is not available for numbers in ${refused.country} (+${refused.callingCode}): Meta does not onboard WhatsApp Business app numbers there`,
          detail: { field: 'display_phone_number', country: refused.iso }
        })
      }
      if (b.throughput_mps !== undefined && b.throughput_mps !== 20 && b.throughput_mps !== 5) {
        throw SyncErrors.SYNC_THROUGHPUT_INVALID.create({ message: 'a coexistence number sends at 20 MPS, or 5 MPS where set', detail: { field: 'throughput_mps' } })
      }
    }
    if (await getTenantWaba(db, tenantId, b.waba_id) === undefined) throw SyncErrors.SYNC_WABA_NOT_FOUND.create({ detail: { field: 'waba_id' } })
    const now = clock()
    let started = false
    await db.transaction().execute(async (tx) => {
      const n = await createPhoneNumber(tx, cipher, {
        id: b.id, tenantId, wabaId: b.waba_id, displayPhoneNumber: b.display_phone_number, mode: b.mode, throughputMps: b.throughput_mps, accessToken: b.access_token
      })
      await sql`INSERT INTO number_lifecycle (phone_number_id, tenant_id) VALUES (${n.id}, ${tenantId}::uuid) ON CONFLICT DO NOTHING`.execute(tx)
      if (b.mode === 'coexistence' && await currentOnboarding(tx, n.id) === undefined) {
        // A PARTNER_ADDED seen before the number was registered dates the onboarding.
        const seen = await tx.selectFrom('account_events').select('event_at').where('waba_id', '=', b.waba_id)
          .where('event', 'in', ['PARTNER_ADDED', 'PARTNER_APP_INSTALLED']).orderBy('event_at', 'desc').limit(1).executeTakeFirst()
        const onboardedAt = b.onboarded_at !== undefined ? new Date(b.onboarded_at) : (seen?.event_at ?? now)
        await startOnboarding(tx, { subject: { tenantId, phoneNumberId: n.id, wabaId: b.waba_id }, displayPhoneNumber: n.display_phone_number, onboardedAt, source: 'api', now })
        started = true
      }
    })
    const subscription = await subscribe(b.waba_id, b.access_token)
    if (started) opts.onOnboarding?.()
    const view = await loadNumberView(db, tenantId, b.id, now)
    return reply.code(201).send({ ...view, subscribed: subscription.ok, subscribe_error: subscription.error })
  })

  app.patch('/v1/numbers/:id', {
    schema: {
      tags: ['accounts'],
      summary: "Change a number's throughput or token",
      params: z.object({ id: z.string().min(1).max(64) }),
      querystring: TenantIdQuery,
      body: z.object({ throughput_mps: z.number().int().min(1).max(1000).optional(), access_token: Token.optional() })
    }
  }, async (request) => {
    requireRole(request, 'manage')
    const tenantId = requireTenantId(request, request.query.tenant_id)
    const current = await getTenantPhoneNumber(db, tenantId, request.params.id)
    if (current === undefined) throw SyncErrors.SYNC_NUMBER_NOT_FOUND.create()
    const t = request.body.throughput_mps
    if (current.mode === 'coexistence' && t !== undefined && t !== 20 && t !== 5) {
      throw SyncErrors.SYNC_THROUGHPUT_INVALID.create({ message: 'a coexistence number sends at 20 MPS, or 5 MPS where set', detail: { field: 'throughput_mps' } })
    }
    await updatePhoneNumber(db, cipher, tenantId, request.params.id, { throughputMps: t, accessToken: request.body.access_token })
    return await loadNumberView(db, tenantId, request.params.id, clock())
  })

  app.post('/v1/numbers/:id/onboarding', {
    schema: {
      tags: ['onboarding'],
      summary: 'Start a coexistence onboarding (again, after a disconnection)',
      params: z.object({ id: z.string().min(1).max(64) }),
      querystring: TenantIdQuery,
      body: z.object({ onboarded_at: z.iso.datetime({ offset: true }).optional() }).optional()
    }
  }, async (request, reply) => {
    requireRole(request, 'manage')
    const tenantId = requireTenantId(request, request.query.tenant_id)
    const n = await getTenantPhoneNumber(db, tenantId, request.params.id)
    if (n === undefined) throw SyncErrors.SYNC_NUMBER_NOT_FOUND.create()
    if (n.mode !== 'coexistence') throw SyncErrors.SYNC_NOT_COEXISTENCE.create()
    const refused = unsupportedCoexistenceCountry(n.display_phone_number)
    if (refused !== undefined) {
      throw SyncErrors.SYNC_COUNTRY_UNSUPPORTED.create({ message: `coexistence is not available for numbers in ${refused.country} (+${refused.callingCode})`, detail: { country: refused.iso } })
    }
    const now = clock()
    await db.transaction().execute(async (tx) => {
      const ob = await currentOnboarding(tx, n.id)
      const life = await tx.selectFrom('number_lifecycle').select('state').where('phone_number_id', '=', n.id).executeTakeFirst()
      // Meta allows the one-time syncs again only after a new Embedded Signup, i.e. after a disconnection.
      if (ob !== undefined && life?.state !== 'disconnected' && ob.state !== 'refused') throw SyncErrors.SYNC_ONBOARDING_ACTIVE.create()
      const at = request.body?.onboarded_at !== undefined ? new Date(request.body.onboarded_at) : now
      await startOnboarding(tx, { subject: { tenantId, phoneNumberId: n.id, wabaId: n.waba_id }, displayPhoneNumber: n.display_phone_number, onboardedAt: at, source: 'api', now })
      await tx.updateTable('number_lifecycle').set({ state: 'connected', updated_at: now }).where('phone_number_id', '=', n.id).execute()
      await tx.updateTable('phone_numbers').set({ status: 'active', updated_at: now }).where('id', '=', n.id).execute()
    })
    opts.onOnboarding?.()
    return reply.code(201).send(await loadNumberView(db, tenantId, n.id, now))
  })
}
