import { getAccessToken, sql, type Db, type TokenCipher } from '@coexist/db'
import type { Logger } from '@coexist/logger'
import { findMetaApiError, type GraphClient } from '@coexist/meta'
import { syncRetryDelayMs, type SyncType } from '../domain/onboarding.ts'
import { applyOnboardingEvent } from '../store/onboarding.ts'
import type { EventSubject } from '../store/outbox.ts'

/** The one Graph call this worker makes. */
export type SyncGraph = Pick<GraphClient, 'requestAppDataSync'>

export interface SyncRequesterDeps {
  db: Db
  graph: SyncGraph
  cipher: TokenCipher
  logger: Logger
  clock: () => Date
  /** How long a claimed request stays ours before another worker may take it, ms. Default 60 s. */
  leaseMs?: number
  random?: () => number
}

export interface SyncRound { accepted: number, retried: number, failed: number, expired: number }

/** Meta: the request limit per sync type was already used (our earlier call went through). */
const ALREADY_REQUESTED = 2593107
/** Meta: the 24-hour window after onboarding has passed. */
const OUTSIDE_WINDOW = 2593108

const LABEL: Record<SyncType, string> = { smb_app_state_sync: 'contacts', history: 'history' }

/**
 * One round of the coexistence sync requests (`POST /{phone-number-id}/smb_app_data`):
 * 1. requests still open when their onboarding's 24-hour window has closed become `expired`,
 *    with the reason, and so does the onboarding;
 * 2. due requests are claimed with a lease (contacts first; history once contacts is settled),
 *    so two workers never call for the same one; then sent, outside any transaction;
 * 3. the outcome is recorded: accepted (with Meta's request_id), retried with back-off inside the
 *    window, failed for good, or expired when Meta answers 2593108. A 2593107 answer means an
 *    earlier call of ours went through (its answer was lost): accepted, never sent again.
 */
export async function runSyncRequests (deps: SyncRequesterDeps): Promise<SyncRound> {
  const { db, clock } = deps
  const log = deps.logger.child({ component: 'sync-requester' })
  const round: SyncRound = { accepted: 0, retried: 0, failed: 0, expired: 0 }
  const now = clock()

  const expired = await sql<{ onboarding_id: string, sync_type: SyncType, deadline_at: Date }>`
    UPDATE sync_requests sr SET state = 'expired', lease_until = NULL, updated_at = ${now},
      last_error = 'not accepted by Meta before the 24-hour sync window closed at ' || to_char(o.deadline_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
    FROM onboardings o
    WHERE o.id = sr.onboarding_id AND o.deadline_at <= ${now}
      AND (sr.state = 'pending' OR (sr.state = 'in_flight' AND sr.lease_until <= ${now}))
    RETURNING sr.onboarding_id, sr.sync_type, o.deadline_at`.execute(db)
  for (const r of expired.rows) {
    round.expired++
    await settle(db, r.onboarding_id, { type: 'window_expired' },
      `the ${LABEL[r.sync_type]} sync request was not accepted before the 24-hour window closed at ${r.deadline_at.toISOString()}; Meta refuses later requests (2593108): the business must offboard and onboard again to sync`, now)
  }

  const leaseUntil = new Date(now.getTime() + (deps.leaseMs ?? 60_000))
  const claimed = (await sql<{ onboarding_id: string, sync_type: SyncType, phone_number_id: string, attempts: number }>`
    UPDATE sync_requests sr SET state = 'in_flight', attempts = sr.attempts + 1, lease_until = ${leaseUntil}, updated_at = ${now}
    WHERE (sr.onboarding_id, sr.sync_type) IN (
      SELECT s.onboarding_id, s.sync_type FROM sync_requests s JOIN onboardings o ON o.id = s.onboarding_id
      WHERE ((s.state = 'pending' AND s.next_attempt_at <= ${now}) OR (s.state = 'in_flight' AND s.lease_until <= ${now}))
        AND o.deadline_at > ${now} AND o.state <> 'refused'
        AND (s.sync_type = 'smb_app_state_sync' OR NOT EXISTS (
          SELECT 1 FROM sync_requests c WHERE c.onboarding_id = s.onboarding_id AND c.sync_type = 'smb_app_state_sync' AND c.state IN ('pending', 'in_flight')))
      ORDER BY s.next_attempt_at LIMIT 20
      FOR UPDATE OF s SKIP LOCKED)
    RETURNING sr.onboarding_id, sr.sync_type, sr.phone_number_id, sr.attempts`.execute(db)).rows

  for (const c of claimed) {
    const where = sql`onboarding_id = ${c.onboarding_id}::uuid AND sync_type = ${c.sync_type} AND state = 'in_flight'`
    const outcome = await attempt(deps, c)
    if (outcome.kind !== 'accepted' || outcome.note !== null) {
      log.warn({ phoneNumberId: c.phone_number_id, syncType: c.sync_type, attempt: c.attempts, outcome: outcome.kind, ...(outcome.kind !== 'accepted' ? { metaCode: outcome.code } : {}) }, 'sync request not accepted at once')
    }
    const at = clock()
    if (outcome.kind === 'accepted') {
      await sql`UPDATE sync_requests SET state = 'accepted', request_id = ${outcome.requestId}, accepted_at = ${at}, lease_until = NULL,
        last_error = ${outcome.note}, updated_at = ${at} WHERE ${where}`.execute(db)
      round.accepted++
      await settle(db, c.onboarding_id, { type: 'sync_accepted', syncType: c.sync_type },
        `${LABEL[c.sync_type]} sync requested${outcome.requestId !== null ? ` (request ${outcome.requestId})` : ''}`, at)
    } else if (outcome.kind === 'retry') {
      const next = new Date(at.getTime() + syncRetryDelayMs(c.attempts, deps.random))
      await sql`UPDATE sync_requests SET state = 'pending', next_attempt_at = ${next}, lease_until = NULL, last_error_code = ${outcome.code},
        last_error = ${outcome.error}, updated_at = ${at} WHERE ${where}`.execute(db)
      round.retried++
    } else {
      await sql`UPDATE sync_requests SET state = ${outcome.kind}, lease_until = NULL, last_error_code = ${outcome.code},
        last_error = ${outcome.error}, updated_at = ${at} WHERE ${where}`.execute(db)
      if (outcome.kind === 'expired') {
        round.expired++
        await settle(db, c.onboarding_id, { type: 'window_expired' },
          `Meta refused the ${LABEL[c.sync_type]} sync request: made outside the 24-hour window after onboarding (2593108); the business must offboard and onboard again to sync`, at)
      } else {
        round.failed++
        await settle(db, c.onboarding_id, { type: 'request_failed' }, `the ${LABEL[c.sync_type]} sync request failed: ${outcome.error}`, at)
      }
    }
  }
  return round
}

type Outcome = { kind: 'accepted', requestId: string | null, note: string | null } | { kind: 'retry' | 'failed' | 'expired', code: number | null, error: string }

/** One call to Meta for a claimed request, and what its answer means. */
async function attempt (deps: SyncRequesterDeps, c: { onboarding_id: string, sync_type: SyncType, phone_number_id: string, attempts: number }): Promise<Outcome> {
  // A retry may follow a call whose answer was lost. If Meta's webhooks for this sync came
  // meanwhile, that call went through: record it, and send nothing again.
  if (c.attempts > 1 && await syncEvidence(deps.db, c.onboarding_id, c.sync_type)) {
    return { kind: 'accepted', requestId: null, note: 'webhooks of this sync arrived after an earlier call whose answer was lost' }
  }
  try {
    const token = await getAccessToken(deps.db, deps.cipher, c.phone_number_id)
    if (token === undefined) return { kind: 'failed', code: null, error: 'no access token is stored for this number' }
    const r = await deps.graph.requestAppDataSync(c.phone_number_id, token, c.sync_type)
    return { kind: 'accepted', requestId: r.request_id, note: null }
  } catch (err) {
    const meta = findMetaApiError(err)
    const code = meta?.metaCode ?? null
    const text = (err instanceof Error ? err.message : String(err)).slice(0, 500)
    if (code === ALREADY_REQUESTED) return { kind: 'accepted', requestId: null, note: 'Meta reports the request was already made (2593107): an earlier call went through' }
    if (code === OUTSIDE_WINDOW) return { kind: 'expired', code, error: text }
    if (meta !== undefined && !meta.retryable) return { kind: 'failed', code, error: text }
    // 5xx, throttling, timeouts, lost connections: try again inside the window.
    return { kind: 'retry', code, error: text }
  }
}

/** True when webhooks of this sync have arrived (contacts in the address book, history chunks or a decline). */
async function syncEvidence (db: Db, onboardingId: string, syncType: SyncType): Promise<boolean> {
  const r = syncType === 'history'
    ? await sql<{ ok: boolean }>`SELECT EXISTS (SELECT 1 FROM history_chunks WHERE onboarding_id = ${onboardingId}::uuid)
        OR EXISTS (SELECT 1 FROM onboardings WHERE id = ${onboardingId}::uuid AND history_error_code IS NOT NULL) AS ok`.execute(db)
    : await sql<{ ok: boolean }>`SELECT EXISTS (SELECT 1 FROM contacts c JOIN onboardings o ON o.phone_number_id = c.phone_number_id
        WHERE o.id = ${onboardingId}::uuid AND c.address_book_at IS NOT NULL AND c.updated_at >= o.created_at) AS ok`.execute(db)
  return r.rows[0]?.ok === true
}

async function settle (db: Db, onboardingId: string, event: Parameters<typeof applyOnboardingEvent>[2], reason: string, at: Date): Promise<void> {
  await db.transaction().execute(async (tx) => {
    const s = await tx.selectFrom('onboardings').innerJoin('phone_numbers', 'phone_numbers.id', 'onboardings.phone_number_id')
      .select(['onboardings.tenant_id', 'onboardings.phone_number_id', 'phone_numbers.waba_id'])
      .where('onboardings.id', '=', onboardingId).executeTakeFirst()
    if (s === undefined) return
    const subject: EventSubject = { tenantId: s.tenant_id, phoneNumberId: s.phone_number_id, wabaId: s.waba_id }
    await applyOnboardingEvent(tx, onboardingId, event, reason, subject, at)
  })
}
