// Money is integer micros (millionths of the currency unit), never floats: 0.0625 USD = 62_500.
// JS numbers hold integers exactly up to 2^53 ≈ 9.0e15 micros (9 billion units), far above any
// invoice; every helper here checks it stays an integer in that range.

/** 1 currency unit in micros. */
const MICROS_PER_UNIT = 1_000_000

const DECIMAL = /^(-)?(\d+)(?:\.(\d+))?$/

/**
 * Parses a decimal amount ("0.0625", "1,234.5", "586.33") into integer micros, exactly (no
 * float arithmetic). Thousands separators (",") are accepted; more than 6 decimals are refused
 * rather than rounded, so a rate card never loses precision silently. Returns undefined when the
 * text is not a decimal number.
 */
export function parseDecimalMicros (text: string): number | undefined {
  const m = DECIMAL.exec(text.trim().replace(/,/g, ''))
  if (m === null) return undefined
  const [, sign, whole = '0', frac = ''] = m
  if (frac.length > 6) return undefined
  const micros = Number(whole) * MICROS_PER_UNIT + Number(frac.padEnd(6, '0'))
  if (!Number.isSafeInteger(micros)) return undefined
  return sign === '-' ? -micros : micros
}

/** Formats micros as a plain decimal with at least two and at most six decimals: 62500 → "0.0625". */
export function formatMicros (micros: number): string {
  const sign = micros < 0 ? '-' : ''
  const abs = Math.abs(micros)
  const whole = Math.floor(abs / MICROS_PER_UNIT)
  let frac = String(abs % MICROS_PER_UNIT).padStart(6, '0').replace(/0+$/, '')
  if (frac.length < 2) frac = frac.padEnd(2, '0')
  return `${sign}${whole}.${frac}`
}

/** A tenant's markup on Meta's price: a percentage (basis points) and/or a fixed amount per charged message. */
export interface Markup {
  /** 1 bp = 0.01 %; 1500 = 15 %. */
  percentBps: number
  /** Added to each charged message, micros. */
  perMessageMicros: number
}

/**
 * What the tenant is billed for one message Meta charges `metaMicros` for. Free messages
 * (metaMicros 0 and not charged) are billed 0: a markup applies to charged messages only.
 * Percentages round half up to the micro.
 */
export function billedPrice (metaMicros: number, charged: boolean, markup: Markup): number {
  if (!charged) return 0
  const pct = Math.floor((metaMicros * markup.percentBps + 5_000) / 10_000)
  const billed = metaMicros + pct + markup.perMessageMicros
  if (!Number.isSafeInteger(billed)) throw new RangeError(`billed price out of range: ${billed}`)
  return billed
}
