import { sql, type DbExecutor, type PhoneNumberStatus } from '@coexist/db'
import type { AccountUpdateValue } from '@coexist/meta'
import { normalisePhone } from '../domain/normalize.ts'
import { currentOnboarding, startOnboarding } from '../store/onboarding.ts'
import { domainEvent, enqueueEvents, type PendingEvent } from '../store/outbox.ts'

type LifecycleState = 'connected' | 'offboarded' | 'disconnected'

/**
 * How each coexistence lifecycle event moves a number: PARTNER_REMOVED is terminal until a new
 * onboarding (sends stop: status `disconnected`); ACCOUNT_OFFBOARDED suspends it until
 * ACCOUNT_RECONNECTED (status `suspended`, then `active`); PARTNER_ADDED connects (and starts an
 * onboarding for a coexistence number that has none live).
 */
const TRANSITIONS: Record<string, { to: LifecycleState, status: PhoneNumberStatus, from?: readonly LifecycleState[] }> = {
  PARTNER_ADDED: { to: 'connected', status: 'active' },
  PARTNER_APP_INSTALLED: { to: 'connected', status: 'active', from: ['connected'] },
  PARTNER_REMOVED: { to: 'disconnected', status: 'disconnected' },
  ACCOUNT_OFFBOARDED: { to: 'offboarded', status: 'suspended', from: ['connected', 'offboarded'] },
  ACCOUNT_RECONNECTED: { to: 'connected', status: 'active', from: ['offboarded', 'connected'] }
}

export interface AccountUpdateContext {
  /** The customer's WABA (waba_info.waba_id, else entry.id). */
  wabaId: string
  /** Meta's entry.time (Unix seconds); 0 when absent. */
  entryTime: number
  /** When ingress received the webhook (ms). */
  receivedAt: number
  now: Date
}

/**
 * An `account_update` value. Applied once (account_events is keyed by WABA, event, time and
 * number), and per number only when newer than the event that set its current state: an older
 * event arriving after a newer one changes nothing. Returns the numbers it moved.
 */
export async function ingestAccountUpdate (db: DbExecutor, ctx: AccountUpdateContext, value: AccountUpdateValue): Promise<number> {
  const eventAt = new Date(ctx.entryTime > 0 ? ctx.entryTime * 1000 : ctx.receivedAt)
  const phone = normalisePhone(value.phone_number) ?? ''
  const fresh = await sql`
    INSERT INTO account_events (waba_id, event, event_at, phone_number, value)
    VALUES (${ctx.wabaId}, ${value.event}, ${eventAt}, ${phone}, ${JSON.stringify(value)}::jsonb)
    ON CONFLICT DO NOTHING`.execute(db)
  if (Number(fresh.numAffectedRows ?? 0) === 0) return 0
  const rule = TRANSITIONS[value.event]
  if (rule === undefined) return 0

  const numbers = (await db.selectFrom('phone_numbers')
    .select(['id', 'tenant_id', 'waba_id', 'display_phone_number', 'mode', 'status'])
    .where('waba_id', '=', ctx.wabaId).execute())
    .filter((n) => phone === '' || normalisePhone(n.display_phone_number) === phone)
    // Coexistence events concern coexistence numbers; PARTNER_ADDED/REMOVED concern every number of the WABA.
    .filter((n) => n.mode === 'coexistence' || value.event === 'PARTNER_ADDED' || value.event === 'PARTNER_REMOVED')
  let moved = 0
  for (const n of numbers) {
    const subject = { tenantId: n.tenant_id, phoneNumberId: n.id, wabaId: n.waba_id }
    await sql`INSERT INTO number_lifecycle (phone_number_id, tenant_id) VALUES (${n.id}, ${n.tenant_id}::uuid) ON CONFLICT DO NOTHING`.execute(db)
    const cur = await db.selectFrom('number_lifecycle').select(['state', 'last_event_at']).where('phone_number_id', '=', n.id).forNoKeyUpdate().executeTakeFirstOrThrow()
    if (cur.last_event_at !== null && cur.last_event_at.getTime() >= eventAt.getTime()) continue // older (or same-instant) news
    if (rule.from !== undefined && !rule.from.includes(cur.state)) continue
    const reason = value.disconnection_info?.reason ?? null
    const initiatedBy = value.disconnection_info?.initiated_by ?? null
    await db.updateTable('number_lifecycle')
      .set({ state: rule.to, last_event: value.event, last_event_at: eventAt, reason, initiated_by: initiatedBy, updated_at: ctx.now })
      .where('phone_number_id', '=', n.id).execute()
    await db.updateTable('phone_numbers').set({ status: rule.status, updated_at: ctx.now }).where('id', '=', n.id).execute()
    const events: PendingEvent[] = [domainEvent(subject, `lifecycle:${n.id}:${value.event}:${eventAt.getTime()}`, eventAt, 'numberLifecycleChanged', {
      metaEvent: value.event, fromState: cur.state, toState: rule.to, reason: reason ?? '', initiatedBy: initiatedBy ?? '', displayPhoneNumber: n.display_phone_number
    })]
    await enqueueEvents(db, events)
    moved++
    if (value.event === 'PARTNER_ADDED' && n.mode === 'coexistence') {
      const ob = await currentOnboarding(db, n.id)
      // A new onboarding for a number never onboarded, or re-onboarded after a disconnection.
      if (ob === undefined || cur.state === 'disconnected') {
        await startOnboarding(db, { subject, displayPhoneNumber: n.display_phone_number, onboardedAt: eventAt, source: 'account_update', now: ctx.now })
      }
    }
  }
  return moved
}
