// The rate cards in memory, reloaded when a card is added. Cards are immutable once loaded (a
// correction is a new version), so the highest `seq` and the count tell whether the cache is
// current; checking them is one tiny query per pricing batch.
import { sql } from '@coexist/db'
import type { DbExecutor } from '@coexist/db'
import { normalizeCategory } from '../domain/categories.ts'
import { rateKey, type RateCard } from '../domain/pricing.ts'

export class RateBook {
  #cards: readonly RateCard[] = []
  #stamp = ''

  /** Every card, sorted by (effectiveFrom, seq); reloaded when the table changed. */
  async cards (db: DbExecutor): Promise<readonly RateCard[]> {
    const { rows } = await sql<{ stamp: string }>`SELECT count(*)::text || ':' || coalesce(max(seq), 0)::text AS stamp FROM billing_rate_cards`.execute(db)
    const stamp = rows[0]?.stamp ?? ''
    if (stamp !== this.#stamp) {
      this.#cards = await loadCards(db)
      this.#stamp = stamp
    }
    return this.#cards
  }

  /** Forget the cache (after loading a card in this process). */
  invalidate (): void { this.#stamp = '' }
}

async function loadCards (db: DbExecutor): Promise<RateCard[]> {
  const cards = await db.selectFrom('billing_rate_cards')
    .select(['id', 'version', 'currency', sql<string>`to_char(effective_from, 'YYYY-MM-DD')`.as('effective_from'), 'seq'])
    .orderBy('effective_from').orderBy('seq').execute()
  const rates = await db.selectFrom('billing_rates')
    .select(['rate_card_id', 'market', 'category', 'tier_from', 'tier_to', 'unit_price_micros'])
    .orderBy('rate_card_id').orderBy('market').orderBy('category').orderBy('tier_from').execute()
  const byCard = new Map<string, Map<string, { tierFrom: number, tierTo: number | null, unitPriceMicros: number }[]>>()
  for (const r of rates) {
    const category = normalizeCategory(r.category)
    if (category === undefined) continue
    let m = byCard.get(r.rate_card_id)
    if (m === undefined) { m = new Map(); byCard.set(r.rate_card_id, m) }
    const k = rateKey(r.market, category)
    const list = m.get(k) ?? []
    list.push({ tierFrom: r.tier_from, tierTo: r.tier_to, unitPriceMicros: Number(r.unit_price_micros) })
    m.set(k, list)
  }
  return cards.map((c) => ({ id: c.id, version: c.version, currency: c.currency, effectiveFrom: c.effective_from, seq: Number(c.seq), rates: byCard.get(c.id) ?? new Map() }))
}
