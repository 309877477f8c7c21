// What billing learns from its topics, reduced to facts about messages, windows and tiers. The
// ledger is a function of these facts: merging them is commutative and idempotent (earliest
// send time, highest delivery rank, Meta's pricing from the highest status), so duplicates and
// reordering change nothing.
import type { Category } from '../domain/categories.ts'
import type { MetaPricing } from '../domain/pricing.ts'

/** Our own send, from `wa.outbound.results.v1` (OutboundResult with status SENT). */
export interface SendFact {
  kind: 'send'
  wamid: string
  tenantId: string | null
  phoneNumberId: string
  recipient: string
  categoryHint: Category | null
  /** null when the result does not tell (no category). */
  isTemplate: boolean | null
  /** ms */
  sentAt: number
}

/** A `statuses[]` item of a `messages` webhook. */
export interface StatusFact {
  kind: 'status'
  wamid: string
  phoneNumberId: string
  wabaId: string | null
  status: string
  /** ms */
  ts: number
  recipient: string
  pricing: MetaPricing | null
}

/** A message the business sent from the WhatsApp Business app (`smb_message_echoes`). */
export interface EchoFact {
  kind: 'echo'
  wamid: string
  phoneNumberId: string
  wabaId: string | null
  recipient: string
  /** ms */
  ts: number
}

/** A user's message (`messages[]` of a `messages` webhook): opens the service window. */
export interface InboundMessageFact {
  kind: 'inbound'
  wamid: string
  phoneNumberId: string
  waId: string
  /** ms */
  ts: number
  entryPoint: boolean
}

/** Meta's VOLUME_BASED_PRICING_TIER_UPDATE for a WABA. */
export interface TierFact {
  kind: 'tier'
  wabaId: string
  market: string
  /** Counter category: authentication-international accrues with authentication. */
  category: 'utility' | 'authentication'
  /** "2025-11" */
  month: string
  lower: number
  upper: number | null
  /** ms */
  updateTime: number
}

export type Fact = SendFact | StatusFact | EchoFact | InboundMessageFact | TierFact
export type MessageFact = SendFact | StatusFact | EchoFact

/** Rank of a status for delivery: delivered (or read/played, which imply it) beats failed beats sent. */
export function deliveryOf (status: string): { delivery: 'pending' | 'delivered' | 'failed', rank: number } | undefined {
  switch (status) {
    case 'sent': return { delivery: 'pending', rank: 0 }
    case 'failed': return { delivery: 'failed', rank: 1 }
    case 'delivered': case 'read': case 'played': return { delivery: 'delivered', rank: 2 }
    default: return undefined // 'deleted' or a status Meta adds later: never moves anything
  }
}

/** Rank of the status a pricing object came with: the delivered/read one is final. */
export function pricingRank (status: string): number {
  return status === 'sent' ? 1 : status === 'delivered' || status === 'read' || status === 'played' ? 2 : 0
}

/** Phone-like recipients as digits (the form of `wa_id` and `recipient_id`); anything else as is. */
export function normalizeRecipient (r: string): string {
  const digits = r.replace(/[\s()+.-]/g, '')
  return /^\d{6,16}$/.test(digits) ? digits : r.trim()
}
