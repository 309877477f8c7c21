import { sql, type Db } from '@coexist/db'
import { activityLevel, daysInactive, INACTIVITY_LIMIT_MS } from '../domain/app-activity.ts'
import { domainEvent, enqueueEvents } from '../store/outbox.ts'

/**
 * Warns before Meta's ~14-day inactivity disconnection: for each connected coexistence number,
 * the last sign of its Business App (echo or contact change; the onboarding time before any) is
 * compared with `now`; a new or higher level writes an AppActivityWarning event once (the level
 * is kept on the number until the app shows activity again). Returns the warnings written.
 */
export async function checkAppActivity (db: Db, now: Date): Promise<number> {
  const rows = (await sql<{ id: string, tenant_id: string, waba_id: string, last: Date | null, level: string | null }>`
    SELECT p.id, p.tenant_id, p.waba_id, GREATEST(nl.last_app_activity_at, o.onboarded_at) AS last, nl.activity_warning_level AS level
    FROM phone_numbers p
    LEFT JOIN number_lifecycle nl ON nl.phone_number_id = p.id
    LEFT JOIN LATERAL (SELECT onboarded_at FROM onboardings WHERE phone_number_id = p.id AND state <> 'refused' ORDER BY generation DESC LIMIT 1) o ON true
    WHERE p.mode = 'coexistence' AND p.status = 'active' AND COALESCE(nl.state, 'connected') = 'connected'`.execute(db)).rows
  let written = 0
  for (const r of rows) {
    if (r.last === null) continue
    const level = activityLevel(r.last, now)
    if (level === undefined || level === r.level || (r.level === 'critical' && level === 'warning')) continue
    await db.transaction().execute(async (tx) => {
      const moved = await sql`
        INSERT INTO number_lifecycle (phone_number_id, tenant_id, activity_warning_level, activity_warned_for) VALUES (${r.id}, ${r.tenant_id}::uuid, ${level}, ${r.last})
        ON CONFLICT (phone_number_id) DO UPDATE SET activity_warning_level = excluded.activity_warning_level, activity_warned_for = excluded.activity_warned_for, updated_at = now()
        WHERE number_lifecycle.activity_warning_level IS DISTINCT FROM excluded.activity_warning_level`.execute(tx)
      if (Number(moved.numAffectedRows ?? 0) === 0) return
      const last = r.last as Date
      await enqueueEvents(tx, [domainEvent({ tenantId: r.tenant_id, phoneNumberId: r.id, wabaId: r.waba_id }, `activity:${r.id}:${level}:${last.getTime()}`, now, 'appActivityWarning', {
        lastAppActivityAt: BigInt(last.getTime()),
        daysInactive: daysInactive(last, now),
        disconnectExpectedAt: BigInt(last.getTime() + INACTIVITY_LIMIT_MS),
        level
      })])
      written++
    })
  }
  return written
}
