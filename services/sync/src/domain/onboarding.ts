/**
 * The coexistence onboarding state machine, as data. States only move forward along
 * onboarded → contacts_sync_requested → history_sync_requested → importing → (complete |
 * declined), or end early in expired / failed; `refused` never starts. Webhooks race the sync
 * requests (Meta may send the first history chunk before our "accepted" write commits), so an
 * event may skip states but never moves back.
 */
import type { SyncType } from '@coexist/meta'

export type OnboardingState = 'onboarded' | 'contacts_sync_requested' | 'history_sync_requested' | 'importing' |
  'complete' | 'declined' | 'expired' | 'failed' | 'refused'

/** Meta accepts `smb_app_data` only within this long after onboarding (2593108 after). */
export const SYNC_WINDOW_MS = 24 * 60 * 60 * 1000

const ORDER: Record<OnboardingState, number> = {
  onboarded: 0,
  contacts_sync_requested: 1,
  history_sync_requested: 2,
  importing: 3,
  complete: 4,
  declined: 4,
  expired: 4,
  failed: 4,
  refused: 4
}

/** True for a state the machine never leaves. */
export function isTerminal (state: OnboardingState): boolean {
  return ORDER[state] === 4
}

export type OnboardingEvent =
  | { type: 'sync_accepted', syncType: SyncType }
  | { type: 'history_chunk', progress: number }
  | { type: 'history_declined' }
  | { type: 'window_expired' }
  | { type: 'request_failed' }

/**
 * The state after `event`, or undefined when the event changes nothing (already past it, or a
 * terminal state). A history chunk after `expired`/`failed` still counts: Meta did send it.
 */
export function nextOnboardingState (current: OnboardingState, event: OnboardingEvent): OnboardingState | undefined {
  let target: OnboardingState
  switch (event.type) {
    case 'sync_accepted':
      target = event.syncType === 'smb_app_state_sync' ? 'contacts_sync_requested' : 'history_sync_requested'
      break
    case 'history_chunk':
      if (current === 'complete' || current === 'declined' || current === 'refused') return undefined
      return event.progress >= 100 ? 'complete' : (current === 'importing' ? undefined : 'importing')
    case 'history_declined':
      if (current === 'complete' || current === 'declined' || current === 'refused') return undefined
      return 'declined'
    case 'window_expired':
      target = 'expired'
      break
    case 'request_failed':
      target = 'failed'
      break
  }
  if (isTerminal(current) || ORDER[target] <= ORDER[current]) return undefined
  return target
}

/** Back-off before retry `attempt` (1-based) of a sync request: 2 s, 4 s, … capped at 5 min, with ±20 % jitter. */
export function syncRetryDelayMs (attempt: number, random: () => number = Math.random): number {
  const base = Math.min(2000 * 2 ** Math.max(0, attempt - 1), 5 * 60 * 1000)
  return Math.round(base * (0.8 + 0.4 * random()))
}
