import { sql, type Database, type DbExecutor, type Selectable } from '@coexist/db'
import { unsupportedCoexistenceCountry } from '../domain/coexistence-countries.ts'
import { nextOnboardingState, SYNC_WINDOW_MS, type OnboardingEvent, type OnboardingState } from '../domain/onboarding.ts'
import { domainEvent, enqueueEvents, type EventSubject } from './outbox.ts'

export type Onboarding = Selectable<Database['onboardings']>

export interface StartOnboardingInput {
  subject: EventSubject
  displayPhoneNumber: string
  onboardedAt: Date
  source: 'api' | 'account_update'
  now: Date
}

/**
 * Starts a coexistence onboarding (a new generation for the number): state `onboarded`, the
 * 24-hour deadline, and one guard row per sync type, due at once. A number in a country Meta does
 * not support for coexistence gets a `refused` onboarding with the reason instead, and no request.
 */
export async function startOnboarding (db: DbExecutor, input: StartOnboardingInput): Promise<Onboarding> {
  const { subject } = input
  const refused = unsupportedCoexistenceCountry(input.displayPhoneNumber)
  const state: OnboardingState = refused !== undefined ? 'refused' : 'onboarded'
  const reason = refused !== undefined
    ? `coexistence is not available in ${refused.country} (+${refused.callingCode}); Meta does not onboard WhatsApp Business app numbers there`
    : `onboarded by ${input.source === 'api' ? 'API call' : 'account_update'}`
  const deadline = new Date(input.onboardedAt.getTime() + SYNC_WINDOW_MS)
  const row = await db.insertInto('onboardings')
    .values({
      tenant_id: subject.tenantId,
      phone_number_id: subject.phoneNumberId,
      generation: sql<number>`(SELECT COALESCE(max(generation), 0) + 1 FROM onboardings WHERE phone_number_id = ${subject.phoneNumberId})`,
      state,
      reason,
      source: input.source,
      onboarded_at: input.onboardedAt,
      deadline_at: deadline,
      completed_at: refused !== undefined ? input.now : null
    })
    .returningAll()
    .executeTakeFirstOrThrow()
  if (refused === undefined) {
    await db.insertInto('sync_requests')
      .values(['smb_app_state_sync', 'history'].map((syncType) => ({
        onboarding_id: row.id,
        sync_type: syncType,
        phone_number_id: subject.phoneNumberId,
        next_attempt_at: input.now
      })))
      .execute()
  }
  await enqueueEvents(db, [domainEvent(subject, `onboarding:${row.id}:${state}`, input.now, 'onboardingStateChanged',
    { fromState: '', toState: state, reason })])
  return row
}

/** The number's latest onboarding (highest generation), if any. */
export async function currentOnboarding (db: DbExecutor, phoneNumberId: string): Promise<Onboarding | undefined> {
  return await db.selectFrom('onboardings').selectAll().where('phone_number_id', '=', phoneNumberId)
    .orderBy('generation', 'desc').limit(1).executeTakeFirst()
}

/**
 * Applies one event to an onboarding under a row lock; writes the new state, its reason and an
 * OnboardingStateChanged event when the state moves. Returns the new state, or undefined when
 * nothing changed. Extra column updates (`patch`) are applied either way.
 */
export async function applyOnboardingEvent (db: DbExecutor, onboardingId: string, event: OnboardingEvent, reason: string,
  subject: EventSubject, at: Date): Promise<OnboardingState | undefined> {
  // NO KEY UPDATE, not UPDATE: concurrent chunk imports hold KEY SHARE on this row (their
  // history_chunks insert references it); FOR UPDATE would deadlock with them.
  const row = await db.selectFrom('onboardings').select(['state']).where('id', '=', onboardingId).forNoKeyUpdate().executeTakeFirst()
  if (row === undefined) return undefined
  const next = nextOnboardingState(row.state, event)
  if (next === undefined) return undefined
  const terminal = next === 'complete' || next === 'declined' || next === 'expired' || next === 'failed'
  await db.updateTable('onboardings')
    .set({ state: next, reason, updated_at: at, ...(terminal ? { completed_at: at } : {}) })
    .where('id', '=', onboardingId)
    .execute()
  await enqueueEvents(db, [domainEvent(subject, `onboarding:${onboardingId}:${next}`, at, 'onboardingStateChanged',
    { fromState: row.state, toState: next, reason })])
  return next
}
