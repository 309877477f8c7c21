// Calendar dates and months in a WABA's timezone. Meta resets volume tiers at 00:00 of the first
// of the month and switches rate cards at 00:00 on quarter starts, both in the WABA's timezone.

const formatters = new Map<string, Intl.DateTimeFormat>()
const cache = new Map<string, string>()
const BUCKET_MS = 15 * 60_000 // every UTC offset in use is a multiple of 15 minutes

function formatter (tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz)
  if (f === undefined) {
    f = new Intl.DateTimeFormat('en-CA', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit' })
    formatters.set(tz, f)
  }
  return f
}

/** True when `tz` is an IANA timezone name Node knows. */
export function isTimeZone (tz: string): boolean {
  try { formatter(tz); return true } catch { return false }
}

/** The local calendar date ("2026-01-31") of the instant `ms` in `tz` (default UTC). */
export function localDate (ms: number, tz = 'UTC'): string {
  // Pricing calls this per message; Intl formatting costs microseconds, so results are cached
  // per 15-minute bucket (the date cannot change inside one).
  const key = `${tz}|${Math.floor(ms / BUCKET_MS)}`
  let d = cache.get(key)
  if (d === undefined) {
    const parts = formatter(tz).formatToParts(new Date(ms))
    const get = (t: string): string => parts.find((p) => p.type === t)?.value ?? '00'
    d = `${get('year')}-${get('month')}-${get('day')}`
    if (cache.size > 50_000) cache.clear()
    cache.set(key, d)
  }
  return d
}

/** The local calendar month ("2026-01") of the instant `ms` in `tz`. */
export function localMonth (ms: number, tz = 'UTC'): string {
  return localDate(ms, tz).slice(0, 7)
}
