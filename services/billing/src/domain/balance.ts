// A tenant's balance state per currency. EXHAUSTED makes the outbound sender refuse the tenant's
// paid sends (templates Meta charges); free messages (service replies inside the window) are
// never refused, so a tenant that ran out can still answer its customers.

export type BalanceStateName = 'OK' | 'LOW' | 'EXHAUSTED'

export interface BalanceInput {
  /** Prepaid tenants run out at a zero balance; others only at their spend limit. */
  prepaid: boolean
  balanceMicros: number
  /** Prepaid balance under which the state is LOW (0 = never LOW). */
  lowBalanceMicros: number
  /** Monthly cap on billed spend; null = none. */
  spendLimitMicros: number | null
  /** Billed spend of the current calendar month (UTC). */
  monthSpendMicros: number
}

/** The state a balance is in: EXHAUSTED at or past the spend limit or, prepaid, at zero or below. */
export function balanceState (b: BalanceInput): BalanceStateName {
  if (b.spendLimitMicros !== null && b.monthSpendMicros >= b.spendLimitMicros) return 'EXHAUSTED'
  if (b.prepaid && b.balanceMicros <= 0) return 'EXHAUSTED'
  if (b.prepaid && b.balanceMicros < b.lowBalanceMicros) return 'LOW'
  return 'OK'
}

/** "2026-01" of an instant, UTC: the spend-limit month. */
export function utcMonth (ms: number): string {
  return new Date(ms).toISOString().slice(0, 7)
}
