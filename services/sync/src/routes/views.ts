import { sql, isUuid, type Db } from '@coexist/db'
import { daysInactive } from '../domain/app-activity.ts'
import type { z } from 'zod'
import { SyncErrors } from '../errors.ts'
import type { NumberView, SyncView } from './schemas.ts'

/** Where an onboarding stands, in words a dashboard can show. */
function phaseOf (state: string): z.infer<typeof SyncView>['phase'] {
  switch (state) {
    case 'onboarded': return 'requesting_contacts'
    case 'contacts_sync_requested': return 'requesting_history'
    case 'history_sync_requested': return 'waiting_for_history'
    case 'importing': return 'importing_history'
    default: return 'done'
  }
}

/** The sync view of a number's latest onboarding (GET /v1/numbers/:id/sync), or null. */
export async function loadSyncView (db: Db, phoneNumberId: string, now: Date): Promise<z.infer<typeof SyncView> | null> {
  const o = await db.selectFrom('onboardings').selectAll().where('phone_number_id', '=', phoneNumberId)
    .orderBy('generation', 'desc').limit(1).executeTakeFirst()
  if (o === undefined) return null
  const requests = await db.selectFrom('sync_requests')
    .select(['sync_type', 'state', 'attempts', 'request_id', 'accepted_at', 'next_attempt_at', 'last_error_code', 'last_error'])
    .where('onboarding_id', '=', o.id).orderBy('sync_type', 'desc').execute()
  const contacts = await sql<{ n: number }>`SELECT count(*)::int AS n FROM contacts WHERE phone_number_id = ${phoneNumberId} AND in_address_book`.execute(db)
  return {
    onboarding_id: o.id,
    generation: o.generation,
    state: o.state,
    reason: o.reason,
    phase: phaseOf(o.state),
    history_phase: o.history_phase,
    progress_percent: o.state === 'complete' ? 100 : o.history_progress,
    counts: {
      contacts: contacts.rows[0]?.n ?? 0,
      history_messages: o.history_messages,
      history_threads: o.history_threads,
      history_chunks: o.history_chunks,
      media_filled: o.history_media_filled
    },
    history_error_code: o.history_error_code,
    onboarded_at: o.onboarded_at.toISOString(),
    deadline_at: o.deadline_at.toISOString(),
    window_open: o.deadline_at.getTime() > now.getTime(),
    completed_at: o.completed_at?.toISOString() ?? null,
    requests: requests.map((r) => ({
      sync_type: r.sync_type as 'smb_app_state_sync' | 'history',
      state: r.state,
      attempts: r.attempts,
      request_id: r.request_id,
      accepted_at: r.accepted_at?.toISOString() ?? null,
      next_attempt_at: r.state === 'pending' ? r.next_attempt_at.toISOString() : null,
      last_error_code: r.last_error_code,
      last_error: r.last_error
    }))
  }
}

/** A number as the API shows it: settings, connection state, app activity, onboarding. 404 across tenants. */
export async function loadNumberView (db: Db, tenantId: string, id: string, now: Date): Promise<z.infer<typeof NumberView>> {
  if (!isUuid(tenantId)) throw SyncErrors.SYNC_NUMBER_NOT_FOUND.create()
  const n = await db.selectFrom('phone_numbers')
    .leftJoin('number_lifecycle', 'number_lifecycle.phone_number_id', 'phone_numbers.id')
    .select(['phone_numbers.id', 'phone_numbers.tenant_id', 'phone_numbers.waba_id', 'phone_numbers.display_phone_number', 'phone_numbers.mode',
      'phone_numbers.throughput_mps', 'phone_numbers.status', 'phone_numbers.created_at',
      'number_lifecycle.state as lifecycle_state', 'number_lifecycle.last_event', 'number_lifecycle.last_event_at', 'number_lifecycle.reason',
      'number_lifecycle.initiated_by', 'number_lifecycle.last_app_activity_at', 'number_lifecycle.activity_warning_level'])
    .select((eb) => eb('phone_numbers.access_token_enc', 'is not', null).$castTo<boolean>().as('has_access_token'))
    .where('phone_numbers.id', '=', id).where('phone_numbers.tenant_id', '=', tenantId).executeTakeFirst()
  if (n === undefined) throw SyncErrors.SYNC_NUMBER_NOT_FOUND.create()
  return numberJson(n, now, n.mode === 'coexistence' ? await loadSyncView(db, n.id, now) : null)
}

type View = z.infer<typeof NumberView>
type NumberRow = {
  id: string,
  tenant_id: string,
  waba_id: string,
  display_phone_number: string,
  mode: View['mode'],
  throughput_mps: number,
  status: View['status'],
  created_at: Date,
  lifecycle_state: View['lifecycle']['state'] | null,
  last_event: string | null,
  last_event_at: Date | null,
  reason: string | null,
  initiated_by: string | null,
  last_app_activity_at: Date | null,
  activity_warning_level: string | null,
  has_access_token: boolean
}

function numberJson (n: NumberRow, now: Date, onboarding: z.infer<typeof SyncView> | null): z.infer<typeof NumberView> {
  return {
    id: n.id,
    tenant_id: n.tenant_id,
    waba_id: n.waba_id,
    display_phone_number: n.display_phone_number,
    mode: n.mode,
    throughput_mps: n.throughput_mps,
    status: n.status,
    has_access_token: n.has_access_token,
    created_at: n.created_at.toISOString(),
    lifecycle: {
      state: n.lifecycle_state ?? 'connected',
      last_event: n.last_event,
      last_event_at: n.last_event_at?.toISOString() ?? null,
      reason: n.reason,
      initiated_by: n.initiated_by
    },
    app_activity: n.mode !== 'coexistence'
      ? null
      : {
          last_seen_at: n.last_app_activity_at?.toISOString() ?? null,
          days_inactive: n.last_app_activity_at === null ? null : daysInactive(n.last_app_activity_at, now),
          warning_level: n.activity_warning_level
        },
    onboarding
  }
}
