/**
 * Reconciliation: every message where our classification (billable, category) and Meta's pricing
 * object disagree, with both sides; and, where the WABA's token allows, Meta's pricing analytics
 * for a period compared with the ledger in totals.
 */
import { z } from 'zod'
import type { Db, TokenCipher } from '@coexist/db'
import type { FastifyPluginAsyncZod } from '@coexist/http'
import type { GraphClient } from '@coexist/meta'
import { BillErrors } from '../errors.ts'
import { compareAnalytics } from '../store/analytics.ts'
import { disagreements } from '../store/usage.ts'
import { readScope } from './scope.ts'

export interface ReconciliationRoutesOptions {
  db: Db
  cipher: TokenCipher
  graph: Pick<GraphClient, 'getPricingAnalytics'>
}

export const reconciliationRoutes: FastifyPluginAsyncZod<ReconciliationRoutesOptions> = async (app, opts) => {
  const { db } = opts

  app.get('/v1/billing/reconciliation/disagreements', {
    schema: {
      tags: ['reconciliation'],
      summary: 'Messages where our billable/category verdict and Meta\'s pricing object disagree (both sides shown)',
      querystring: z.object({
        from: z.iso.datetime({ offset: true }),
        to: z.iso.datetime({ offset: true }),
        tenant_id: z.uuid().optional(),
        limit: z.coerce.number().int().min(1).max(1000).default(200)
      })
    }
  }, async (request) => {
    const q = request.query
    const from = new Date(q.from)
    const to = new Date(q.to)
    if (!(to > from)) throw BillErrors.BILL_INVALID_REQUEST.create({ message: '`to` must be after `from`' })
    const lines = await disagreements(db, readScope(request, q.tenant_id), from, to, q.limit)
    return {
      data: lines.map((l) => ({
        wamid: l.wamid,
        tenant_id: l.tenant_id,
        phone_number_id: l.phone_number_id,
        recipient: l.recipient,
        market: l.market,
        origin: l.origin,
        sent_at: l.sent_at,
        ours: l.ours,
        meta: l.meta,
        billed: { state: l.state, decided_by: l.decided_by, category: l.category, billed_price_micros: l.billed_price_micros }
      }))
    }
  })

  app.post('/v1/billing/reconciliation/analytics', {
    schema: {
      tags: ['reconciliation'],
      summary: 'Fetch Meta\'s pricing_analytics for a WABA and period and compare it with the ledger in totals',
      body: z.object({
        waba_id: z.string().regex(/^\d{1,32}$/),
        from: z.iso.datetime({ offset: true }),
        to: z.iso.datetime({ offset: true }),
        granularity: z.enum(['HALF_HOUR', 'DAILY', 'MONTHLY']).default('DAILY')
      })
    }
  }, async (request) => {
    const b = request.body
    const from = new Date(b.from)
    const to = new Date(b.to)
    if (!(to > from)) throw BillErrors.BILL_INVALID_REQUEST.create({ message: '`to` must be after `from`' })
    return await compareAnalytics(db, opts.graph, opts.cipher, { scope: readScope(request), wabaId: b.waba_id, from, to, granularity: b.granularity })
  })
}
