/**
 * Usage API: usage totals by period, number, category, market (Meta's cost and the billed price),
 * ledger lines, and invoices as JSON or CSV. Tenant keys see their own tenant; admin keys all.
 */
import { stringify } from 'csv-stringify/sync'
import { z } from 'zod'
import type { Db } from '@coexist/db'
import type { FastifyPluginAsyncZod } from '@coexist/http'
import { BillErrors } from '../errors.ts'
import { CATEGORIES } from '../domain/categories.ts'
import { formatMicros } from '../domain/money.ts'
import { GROUP_BY, getLine, invoice, listLines, usage } from '../store/usage.ts'
import { oneTenant, readScope } from './scope.ts'

export interface UsageRoutesOptions { db: Db, clock: () => number }

const Period = z.object({
  from: z.iso.datetime({ offset: true }).describe('start of the period (inclusive), ISO 8601'),
  to: z.iso.datetime({ offset: true }).describe('end of the period (exclusive), ISO 8601'),
  tenant_id: z.uuid().optional().describe('admin keys: one tenant (default all); tenant keys: their own only')
})

function period (q: { from: string, to: string }): { from: Date, to: Date } {
  const from = new Date(q.from)
  const to = new Date(q.to)
  if (!(to > from)) throw BillErrors.BILL_INVALID_REQUEST.create({ message: '`to` must be after `from`' })
  return { from, to }
}

const encodeCursor = (sentAt: string, wamid: string): string => Buffer.from(JSON.stringify([sentAt, wamid])).toString('base64url')
function decodeCursor (c: string): { sentAt: Date, wamid: string } {
  try {
    const [s, w] = JSON.parse(Buffer.from(c, 'base64url').toString('utf8')) as [string, string]
    const sentAt = new Date(s)
    if (typeof w !== 'string' || Number.isNaN(sentAt.getTime())) throw new Error('bad cursor')
    return { sentAt, wamid: w }
  } catch (err) {
    throw BillErrors.BILL_INVALID_REQUEST.create({ message: 'invalid cursor', cause: err })
  }
}

export const usageRoutes: FastifyPluginAsyncZod<UsageRoutesOptions> = async (app, opts) => {
  const { db, clock } = opts

  app.get('/v1/billing/usage', {
    schema: {
      tags: ['billing'],
      summary: 'Usage by period, number, category, market: messages, Meta cost, billed price',
      querystring: Period.extend({
        group_by: z.string().default('category')
          .describe(`comma-separated breakdown: ${GROUP_BY.join(', ')}`)
          .transform((s, ctx) => {
            const list = s.split(',').map((p) => p.trim()).filter((p) => p !== '')
            for (const g of list) if (!(GROUP_BY as readonly string[]).includes(g)) ctx.addIssue({ code: 'custom', message: `unknown group_by "${g}"` })
            return list as (typeof GROUP_BY[number])[]
          }),
        phone_number_id: z.string().optional(),
        category: z.enum(CATEGORIES).optional(),
        market: z.string().optional()
      })
    }
  }, async (request) => {
    const q = request.query
    const scope = readScope(request, q.tenant_id)
    const { from, to } = period(q)
    const rows = await usage(db, { scope, from, to, groupBy: q.group_by, phoneNumberId: q.phone_number_id, category: q.category, market: q.market })
    return {
      from: from.toISOString(),
      to: to.toISOString(),
      group_by: q.group_by,
      data: rows.map((r) => ({
        ...r.group,
        currency: r.currency,
        messages: r.messages,
        charged: r.charged,
        free: r.free,
        pending: r.pending,
        unpriced: r.unpriced,
        meta_cost_micros: r.metaCostMicros,
        billed_micros: r.billedMicros,
        meta_cost: formatMicros(r.metaCostMicros),
        billed: formatMicros(r.billedMicros)
      }))
    }
  })

  app.get('/v1/billing/ledger', {
    schema: {
      tags: ['billing'],
      summary: 'Ledger lines (one per message) in send-time order',
      querystring: Period.extend({
        phone_number_id: z.string().optional(),
        state: z.enum(['pending', 'charged', 'free', 'unpriced']).optional(),
        limit: z.coerce.number().int().min(1).max(1000).default(100),
        cursor: z.string().max(500).optional()
      })
    }
  }, async (request) => {
    const q = request.query
    const scope = readScope(request, q.tenant_id)
    const { from, to } = period(q)
    const lines = await listLines(db, { scope, from, to, phoneNumberId: q.phone_number_id, state: q.state, limit: q.limit, after: q.cursor === undefined ? undefined : decodeCursor(q.cursor) })
    const last = lines.at(-1)
    return { data: lines, next_cursor: lines.length === q.limit && last !== undefined ? encodeCursor(last.sent_at, last.wamid) : null }
  })

  app.get('/v1/billing/ledger/:wamid', {
    schema: { tags: ['billing'], summary: 'One ledger line, by wamid', params: z.object({ wamid: z.string().min(1).max(256) }) }
  }, async (request) => {
    const line = await getLine(db, readScope(request), request.params.wamid)
    if (line === undefined) throw BillErrors.BILL_NOT_FOUND.create()
    return line
  })

  app.get('/v1/billing/invoices/:period', {
    schema: {
      tags: ['billing'],
      summary: 'Invoice for a calendar month (UTC), as JSON or CSV (format=csv or Accept: text/csv)',
      params: z.object({ period: z.string().regex(/^\d{4}-(0[1-9]|1[0-2])$/).describe('YYYY-MM') }),
      querystring: z.object({ tenant_id: z.uuid().optional(), format: z.enum(['json', 'csv']).optional() })
    }
  }, async (request, reply) => {
    const tenantId = oneTenant(request, request.query.tenant_id)
    const inv = await invoice(db, tenantId, request.params.period, clock())
    const csv = request.query.format === 'csv' || (request.query.format === undefined && /\btext\/csv\b/.test(request.headers.accept ?? ''))
    if (!csv) return inv
    const rows: string[][] = [['tenant_id', 'period', 'phone_number_id', 'category', 'market', 'currency', 'messages', 'charged', 'free', 'meta_cost', 'billed']]
    for (const l of inv.lines) {
      rows.push([tenantId, inv.period, l.phone_number_id, l.category ?? '', l.market ?? '', l.currency ?? '', String(l.messages), String(l.charged), String(l.free), formatMicros(l.meta_cost_micros), formatMicros(l.billed_micros)])
    }
    for (const t of inv.totals) rows.push([tenantId, inv.period, 'TOTAL', '', '', t.currency ?? '', String(t.messages), String(t.charged), String(t.free), t.meta_cost, t.billed])
    return reply
      .header('content-type', 'text/csv; charset=utf-8')
      .header('content-disposition', `attachment; filename="invoice-${tenantId}-${inv.period}.csv"`)
      .send(stringify(rows))
  })
}
