/**
 * Meta disconnects a coexistence number when its Business App was not opened for about 14 days
 * (PARTNER_REMOVED, reason PRIMARY_INACTIVITY). We see the app alive through echoes and contact
 * changes, and warn before the limit: `warning` from day 10, `critical` from day 13 (BSPs tell
 * customers to open the app every 13 days).
 */
export const DAY_MS = 24 * 60 * 60 * 1000
export const INACTIVITY_LIMIT_MS = 14 * DAY_MS
const WARNING_AFTER_MS = 10 * DAY_MS
const CRITICAL_AFTER_MS = 13 * DAY_MS

export type ActivityLevel = 'warning' | 'critical'

/** The warning level for an app last seen at `lastActiveAt`, or undefined while it is fine. */
export function activityLevel (lastActiveAt: Date, now: Date): ActivityLevel | undefined {
  const idle = now.getTime() - lastActiveAt.getTime()
  if (idle >= CRITICAL_AFTER_MS) return 'critical'
  if (idle >= WARNING_AFTER_MS) return 'warning'
  return undefined
}

/** Whole days since `lastActiveAt`. */
export function daysInactive (lastActiveAt: Date, now: Date): number {
  return Math.max(0, Math.floor((now.getTime() - lastActiveAt.getTime()) / DAY_MS))
}
