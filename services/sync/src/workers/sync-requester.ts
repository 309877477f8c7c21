import { getAccessToken, sql, type Db, type DbExecutor, type TokenCipher } from '@coexist/db'
import type { Logger } from '@coexist/logger'
import { findMetaApiError, type GraphClient, type SyncType } from '@coexist/meta'
import { syncRetryDelayMs } from '../domain/onboarding.ts'
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
  /**
   * How long a claimed request stays ours before another worker may take it over (after a crash),
   * ms. Default 5 minutes. Must be well above the Graph client's timeout: a claim is taken right
   * before its one call, and a lease that ran out while the call was still in flight would let a
   * second worker send it again, which Meta allows only once.
   */
  leaseMs?: number
  random?: () => number
  /** At most this many requests per round. Default 20. */
  batch?: number
}

export interface SyncRound { accepted: number, retried: number, failed: number, expired: number }

/** Meta: the request limit per sync type was already used (our earlier call went through). */
const ALREADY_REQUESTED = 2593107
/** Meta: the 24-hour window after onboarding has passed. */
const OUTSIDE_WINDOW = 2593108

const LABEL: Record<SyncType, string> = { smb_app_state_sync: 'contacts', history: 'history' }

interface Claim { onboarding_id: string, sync_type: SyncType, phone_number_id: string, attempts: number }

/**
 * One round of the coexistence sync requests (`POST /{phone-number-id}/smb_app_data`):
 * 1. requests still open when their onboarding's 24-hour window has closed become `expired`,
 *    with the reason, and so does the onboarding;
 * 2. due requests are claimed one at a time, each right before its call, with a lease
 *    (contacts first; history once contacts is settled; none for an onboarding that already
 *    ended), so two workers never call for the same one; the call is made outside any
 *    transaction;
 * 3. the outcome is recorded, only if the claim is still ours (its attempt number): accepted
 *    (with Meta's request_id), retried with back-off inside the window, failed for good, or
 *    expired when Meta answers 2593108. A 2593107 answer means an earlier call of ours went
 *    through (its answer was lost): accepted, never sent again. A request that ends expired or
 *    failed closes the onboarding's other open request in the same transaction, unsent (Meta
 *    would refuse it too).
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
    await db.transaction().execute(async (tx) => {
      await settle(tx, r.onboarding_id, { type: 'window_expired' },
        `the ${LABEL[r.sync_type]} sync request was not accepted before the 24-hour window closed at ${r.deadline_at.toISOString()}; Meta refuses later requests (2593108): the business must offboard and onboard again to sync`, now)
    })
  }

  const batch = deps.batch ?? 20
  for (let i = 0; i < batch; i++) {
    const c = await claimNext(deps)
    if (c === undefined) break
    const outcome = await attempt(deps, c)
    if (outcome.kind !== 'accepted' || outcome.note !== null) {
      log.warn({ phoneNumberId: c.phone_number_id, syncType: c.sync_type, attempt: c.attempts, outcome: outcome.kind, ...(outcome.kind !== 'accepted' ? { metaCode: outcome.code } : {}) }, 'sync request not accepted at once')
    }
    const recorded = await record(deps, c, outcome)
    if (!recorded) {
      // Our lease ran out and another worker took the request over: its outcome stands.
      log.warn({ phoneNumberId: c.phone_number_id, syncType: c.sync_type, attempt: c.attempts, outcome: outcome.kind }, 'sync request claim lost before its outcome was recorded; is leaseMs shorter than a Graph call?')
      continue
    }
    if (outcome.kind === 'accepted') round.accepted++
    else if (outcome.kind === 'retry') round.retried++
    else if (outcome.kind === 'expired') round.expired++
    else round.failed++
  }
  return round
}

/**
 * Claims the next due request for this worker: a conditional UPDATE … RETURNING on one row,
 * locked with SKIP LOCKED so concurrent workers take different rows. Its new attempt number is
 * the claim's fencing token.
 */
async function claimNext (deps: SyncRequesterDeps): Promise<Claim | undefined> {
  const now = deps.clock()
  const leaseUntil = new Date(now.getTime() + (deps.leaseMs ?? 5 * 60_000))
  const r = await sql<Claim>`
    WITH due AS MATERIALIZED (
      SELECT s.onboarding_id, s.sync_type FROM sync_requests s JOIN onboardings o ON o.id = s.onboarding_id
      WHERE ((s.state = 'pending' AND s.next_attempt_at <= ${now}) OR (s.state = 'in_flight' AND s.lease_until <= ${now}))
        AND o.deadline_at > ${now} AND o.state NOT IN ('refused', 'expired', 'failed')
        AND (s.sync_type = 'smb_app_state_sync' OR NOT EXISTS (
          SELECT 1 FROM sync_requests c WHERE c.onboarding_id = s.onboarding_id AND c.sync_type = 'smb_app_state_sync' AND c.state IN ('pending', 'in_flight')))
      ORDER BY s.next_attempt_at LIMIT 1
      FOR UPDATE OF s SKIP LOCKED)
    UPDATE sync_requests sr SET state = 'in_flight', attempts = sr.attempts + 1, lease_until = ${leaseUntil}, updated_at = ${now}
    FROM due WHERE sr.onboarding_id = due.onboarding_id AND sr.sync_type = due.sync_type
      AND ((sr.state = 'pending' AND sr.next_attempt_at <= ${now}) OR (sr.state = 'in_flight' AND sr.lease_until <= ${now}))
    RETURNING sr.onboarding_id, sr.sync_type, sr.phone_number_id, sr.attempts`.execute(deps.db)
  return r.rows[0]
}

/**
 * Records the outcome of a claimed request, fenced by its attempt number, with the onboarding's
 * state change in the same transaction. False when the claim was no longer ours.
 */
async function record (deps: SyncRequesterDeps, c: Claim, outcome: Outcome): Promise<boolean> {
  const at = deps.clock()
  return await deps.db.transaction().execute(async (tx) => {
    const mine = sql`onboarding_id = ${c.onboarding_id}::uuid AND sync_type = ${c.sync_type} AND state = 'in_flight' AND attempts = ${c.attempts}`
    if (outcome.kind === 'accepted') {
      const r = await sql`UPDATE sync_requests SET state = 'accepted', request_id = ${outcome.requestId}, accepted_at = ${at}, lease_until = NULL,
        last_error = ${outcome.note}, updated_at = ${at} WHERE ${mine}`.execute(tx)
      if (r.numAffectedRows !== 1n) return false
      await settle(tx, c.onboarding_id, { type: 'sync_accepted', syncType: c.sync_type },
        `${LABEL[c.sync_type]} sync requested${outcome.requestId !== null ? ` (request ${outcome.requestId})` : ''}`, at)
      return true
    }
    if (outcome.kind === 'retry') {
      const next = new Date(at.getTime() + syncRetryDelayMs(c.attempts, deps.random))
      const r = await sql`UPDATE sync_requests SET state = 'pending', next_attempt_at = ${next}, lease_until = NULL, last_error_code = ${outcome.code},
        last_error = ${outcome.error}, updated_at = ${at} WHERE ${mine}`.execute(tx)
      return r.numAffectedRows === 1n
    }
    const r = await sql`UPDATE sync_requests SET state = ${outcome.kind}, lease_until = NULL, last_error_code = ${outcome.code},
      last_error = ${outcome.error}, updated_at = ${at} WHERE ${mine}`.execute(tx)
    if (r.numAffectedRows !== 1n) return false
    // The onboarding has ended: its other open request is closed unsent.
    const why = outcome.kind === 'expired'
      ? `not sent: Meta refused the ${LABEL[c.sync_type]} sync request as made outside the 24-hour window (2593108), and refuses any later one`
      : `not sent: the ${LABEL[c.sync_type]} sync request failed for good: ${outcome.error}`
    await sql`UPDATE sync_requests SET state = ${outcome.kind}, lease_until = NULL, last_error_code = ${outcome.code}, last_error = ${why}, updated_at = ${at}
      WHERE onboarding_id = ${c.onboarding_id}::uuid AND sync_type <> ${c.sync_type} AND state = 'pending'`.execute(tx)
    if (outcome.kind === 'expired') {
      await settle(tx, c.onboarding_id, { type: 'window_expired' },
        `Meta refused the ${LABEL[c.sync_type]} sync request: made outside the 24-hour window after onboarding (2593108); the business must offboard and onboard again to sync`, at)
    } else {
      await settle(tx, c.onboarding_id, { type: 'request_failed' }, `the ${LABEL[c.sync_type]} sync request failed: ${outcome.error}`, at)
    }
    return true
  })
}

type Outcome = { kind: 'accepted', requestId: string | null, note: string | null } | { kind: 'retry' | 'failed' | 'expired', code: number | null, error: string }

/** One call to Meta for a claimed request, and what its answer means. */
async function attempt (deps: SyncRequesterDeps, c: Claim): Promise<Outcome> {
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

async function settle (tx: DbExecutor, onboardingId: string, event: Parameters<typeof applyOnboardingEvent>[2], reason: string, at: Date): Promise<void> {
  const s = await tx.selectFrom('onboardings').innerJoin('phone_numbers', 'phone_numbers.id', 'onboardings.phone_number_id')
    .select(['onboardings.tenant_id', 'onboardings.phone_number_id', 'phone_numbers.waba_id'])
    .where('onboardings.id', '=', onboardingId).executeTakeFirst()
  if (s === undefined) return
  const subject: EventSubject = { tenantId: s.tenant_id, phoneNumberId: s.phone_number_id, wabaId: s.waba_id }
  await applyOnboardingEvent(tx, onboardingId, event, reason, subject, at)
}
