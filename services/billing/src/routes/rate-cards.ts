/**
 * Rate cards (admin): load a version from JSON rates or from Meta's CSV layout (rates, and volume
 * tiers), list and read versions, reprice open lines, and WABA pricing settings. Cards are
 * immutable; a correction is a new version. Loading one reprices lines that were waiting for it.
 */
import { z } from 'zod'
import type { Db } from '@coexist/db'
import type { FastifyPluginAsyncZod } from '@coexist/http'
import { BillErrors } from '../errors.ts'
import { CATEGORIES } from '../domain/categories.ts'
import { formatMicros, parseDecimalMicros } from '../domain/money.ts'
import { mergeTiers, parseRateCardCsv, parseVolumeTiersCsv, type ParsedCard, type RateRow } from '../domain/rate-card-csv.ts'
import { getRateCard, getRates, listRateCards, rateCardWarnings, saveRateCard } from '../store/rate-cards.ts'

export interface RateCardRoutesOptions {
  db: Db
  /** Recomputes pending/unpriced lines (after a load); returns how many changed. */
  reprice: () => Promise<number>
  /** Forget cached cards and accounts in this process. */
  invalidate: () => void
}

const Meta = {
  version: z.string().trim().min(1).max(100),
  effective_from: z.iso.date().describe('local date (WABA timezone) the prices apply from; Meta uses quarter starts'),
  is_sample: z.boolean().default(false),
  source: z.string().max(500).optional()
}

const RateInput = z.object({
  market: z.string().min(1),
  category: z.enum(CATEGORIES),
  tier_from: z.number().int().min(1).default(1),
  tier_to: z.number().int().min(1).nullable().default(null),
  unit_price: z.union([z.string().regex(/^\d{1,12}(\.\d{1,6})?$/), z.number().int().min(0).describe('micros')])
})

export const rateCardRoutes: FastifyPluginAsyncZod<RateCardRoutesOptions> = async (app, opts) => {
  const { db } = opts
  app.addContentTypeParser(['text/csv', 'application/csv'], { parseAs: 'string', bodyLimit: 5 * 1024 * 1024 }, (_req, body, done) => { done(null, body) })

  async function store (input: { version: string, effective_from: string, is_sample: boolean, source?: string }, card: ParsedCard, currency: string) {
    const saved = await saveRateCard(db, { version: input.version, currency, effectiveFrom: input.effective_from, isSample: input.is_sample, source: input.source ?? null, rates: card.rates })
    opts.invalidate()
    const repriced = saved.created ? await opts.reprice() : 0
    return { ...saved.card, created: saved.created, repriced, warnings: [...card.warnings, ...rateCardWarnings({ ...saved.card, rates: card.rates })] }
  }

  app.post('/v1/billing/rate-cards', {
    config: { auth: 'admin' },
    schema: {
      tags: ['rate cards'],
      summary: 'Load a rate card version: rates as JSON, or Meta\'s CSVs as strings (rates_csv, tiers_csv)',
      body: z.object({
        ...Meta,
        currency: z.string().regex(/^[A-Z]{3}$/).optional().describe('required with `rates`; taken from the CSV otherwise'),
        rates: z.array(RateInput).min(1).max(50_000).optional(),
        rates_csv: z.string().max(5_000_000).optional(),
        tiers_csv: z.string().max(5_000_000).optional()
      })
    }
  }, async (request, reply) => {
    const b = request.body
    let card: ParsedCard
    if (b.rates_csv !== undefined) {
      card = mergeTiers(parseRateCardCsv(b.rates_csv, b.currency), b.tiers_csv === undefined ? undefined : parseVolumeTiersCsv(b.tiers_csv, b.currency))
    } else if (b.rates !== undefined) {
      if (b.currency === undefined) throw BillErrors.BILL_RATE_CARD_INVALID.create({ message: 'rate card is invalid: currency is required with rates' })
      const rates: RateRow[] = b.rates.map((r) => {
        const micros = typeof r.unit_price === 'number' ? r.unit_price : parseDecimalMicros(r.unit_price)
        if (micros === undefined) throw BillErrors.BILL_RATE_CARD_INVALID.create({ message: `rate card is invalid: bad price for ${r.market} ${r.category}` })
        return { market: r.market, category: r.category, tierFrom: r.tier_from, tierTo: r.tier_to, unitPriceMicros: micros }
      })
      card = { currency: b.currency, rates, warnings: [] }
    } else {
      throw BillErrors.BILL_RATE_CARD_INVALID.create({ message: 'rate card is invalid: give `rates` or `rates_csv`' })
    }
    const out = await store(b, card, card.currency)
    return reply.code(out.created ? 201 : 200).send(out)
  })

  app.post('/v1/billing/rate-cards/csv', {
    config: { auth: 'admin' },
    schema: {
      tags: ['rate cards'],
      summary: 'Load a rate card version from Meta\'s rates CSV (body text/csv)',
      querystring: z.object({ ...Meta, is_sample: z.enum(['true', 'false']).default('false').transform((v) => v === 'true'), currency: z.string().regex(/^[A-Z]{3}$/).optional() }),
      body: z.string().min(1)
    }
  }, async (request, reply) => {
    const q = request.query
    const card = parseRateCardCsv(request.body, q.currency)
    const out = await store(q, card, card.currency)
    return reply.code(out.created ? 201 : 200).send(out)
  })

  app.get('/v1/billing/rate-cards', {
    config: { auth: 'admin' },
    schema: { tags: ['rate cards'], summary: 'Rate card versions, newest first', querystring: z.object({ currency: z.string().regex(/^[A-Z]{3}$/).optional() }) }
  }, async (request) => ({ data: await listRateCards(db, { currency: request.query.currency }) }))

  app.get('/v1/billing/rate-cards/:id', {
    config: { auth: 'admin' },
    schema: { tags: ['rate cards'], summary: 'A rate card version with its prices', params: z.object({ id: z.uuid() }) }
  }, async (request) => {
    const card = await getRateCard(db, request.params.id)
    if (card === undefined) throw BillErrors.BILL_RATE_CARD_NOT_FOUND.create()
    const rates = await getRates(db, card.id)
    return { ...card, rates: rates.map((r) => ({ market: r.market, category: r.category, tier_from: r.tierFrom, tier_to: r.tierTo, unit_price_micros: r.unitPriceMicros, unit_price: formatMicros(r.unitPriceMicros) })) }
  })

  app.post('/v1/billing/reprice', {
    config: { auth: 'admin' },
    schema: { tags: ['rate cards'], summary: 'Recompute lines still pending or unpriced (after a card load or a number registration)' }
  }, async () => {
    opts.invalidate()
    return { changed: await opts.reprice() }
  })

  app.put('/v1/billing/wabas/:wabaId/settings', {
    config: { auth: 'admin' },
    schema: {
      tags: ['rate cards'],
      summary: 'Pricing settings of a WABA: its business portfolio (volume tiers accrue across a portfolio)',
      params: z.object({ wabaId: z.string().regex(/^\d{1,32}$/) }),
      body: z.object({ business_portfolio_id: z.string().regex(/^\d{1,32}$/).nullable() })
    }
  }, async (request) => {
    const { wabaId } = request.params
    if (await db.selectFrom('wabas').select('id').where('id', '=', wabaId).executeTakeFirst() === undefined) throw BillErrors.BILL_WABA_NOT_FOUND.create()
    const portfolio = request.body.business_portfolio_id
    await db.insertInto('billing_waba_settings').values({ waba_id: wabaId, business_portfolio_id: portfolio })
      .onConflict((oc) => oc.column('waba_id').doUpdateSet({ business_portfolio_id: portfolio, updated_at: new Date() })).execute()
    opts.invalidate()
    return { waba_id: wabaId, business_portfolio_id: portfolio }
  })
}
