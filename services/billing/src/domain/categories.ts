// Meta's pricing categories (facts file §3.5, §8.1). Meta spells authentication-international
// with a hyphen in the status webhook's `pricing.category` and with an underscore in the
// conversation origin, the rate-card pages and pricing_analytics (upper case there); we store
// the underscore form and accept every spelling.

export const CATEGORIES = ['marketing', 'marketing_lite', 'utility', 'authentication', 'authentication_international', 'service', 'referral_conversion'] as const
export type Category = typeof CATEGORIES[number]

/** Categories of template messages: the only messages Meta ever charges. */
export const TEMPLATE_CATEGORIES: ReadonlySet<Category> = new Set(['marketing', 'marketing_lite', 'utility', 'authentication', 'authentication_international'])

/**
 * Volume tiers exist for utility and authentication only (facts §8.2). Authentication-international
 * messages accrue on the authentication counter (Meta's pricing page, volume tiers example 2) but
 * are priced from their own tier rates.
 */
export function tierCounterCategory (c: Category): 'utility' | 'authentication' | undefined {
  if (c === 'utility') return 'utility'
  if (c === 'authentication' || c === 'authentication_international') return 'authentication'
  return undefined
}

/** Why a ledger line is free. */
export type FreeReason =
  /** A non-template message inside the 24 h customer service window. */
  | 'service_window'
  /** A utility template inside the customer service window. */
  | 'utility_in_window'
  /** Anything inside a 72 h free entry point window (or the reply that opened it). */
  | 'free_entry_point'
  /** Sent from the WhatsApp Business app (coexistence echo): never charged. */
  | 'business_app'
  /** Meta charges only delivered template messages; this one failed. */
  | 'not_delivered'
  /** A non-template message with no open window known to us (Meta does not charge it either). */
  | 'non_template'
  /** Meta's pricing object says not billable and names no reason we model. */
  | 'meta_free'

/**
 * A category as any Meta surface spells it (`authentication-international`, `UTILITY`,
 * ` Marketing `) in our form; undefined for an unknown value.
 */
export function normalizeCategory (raw: string | null | undefined): Category | undefined {
  if (raw === null || raw === undefined) return undefined
  const c = raw.trim().toLowerCase().replace(/[-\s]+/g, '_')
  return (CATEGORIES as readonly string[]).includes(c) ? c as Category : undefined
}

/** Meta's `pricing.type` values (lower case, as in the status webhook). */
const PRICING_TYPES = ['regular', 'free_customer_service', 'free_entry_point'] as const
export type PricingType = typeof PRICING_TYPES[number]

/** `pricing.type` in our form (pricing_analytics writes it upper case); undefined when unknown. */
export function normalizePricingType (raw: string | null | undefined): PricingType | undefined {
  if (raw === null || raw === undefined) return undefined
  const t = raw.trim().toLowerCase()
  return (PRICING_TYPES as readonly string[]).includes(t) ? t as PricingType : undefined
}
