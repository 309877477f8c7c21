import { sql, type DbExecutor } from '@coexist/db'
import type { HistoryChunk, HistoryValue } from '@coexist/meta'
import { historyMediaRows, historyThreadRows } from '../domain/normalize.ts'
import { applyOnboardingEvent, currentOnboarding } from '../store/onboarding.ts'
import { insertMessages, storeHistoryMedia } from '../store/messages.ts'
import { domainEvent, enqueueEvents } from '../store/outbox.ts'
import type { NumberInfo } from './number-directory.ts'

/** Meta's code for "history sync is turned off by the business". */
const HISTORY_DECLINED_CODE = 2593109

export interface HistoryResult {
  chunks: number
  duplicateChunks: number
  messages: number
  mediaFilled: number
}

/**
 * Imports one `history` webhook value in the caller's transaction: chunks (bulk, once each by
 * (onboarding, phase, chunk_order), any order), a decline, or follow-up media for placeholders.
 * Progress and counts live on the onboarding row and move in the same transaction as the rows, so
 * a crash mid-import leaves nothing and a redelivery after a commit adds nothing.
 */
export async function importHistory (db: DbExecutor, number: NumberInfo, value: HistoryValue, at: Date): Promise<HistoryResult> {
  const result: HistoryResult = { chunks: 0, duplicateChunks: 0, messages: 0, mediaFilled: 0 }
  const onboarding = await currentOnboarding(db, number.phoneNumberId)
  for (const chunk of value.history ?? []) {
    const r = await importChunk(db, number, onboarding?.id, chunk, at)
    if (r === undefined) result.duplicateChunks++
    else { result.chunks++; result.messages += r }
  }
  if ((value.messages?.length ?? 0) > 0 || (value.message_echoes?.length ?? 0) > 0) {
    const rows = historyMediaRows(value as Parameters<typeof historyMediaRows>[0], number.displayPhoneNumber)
    // Media that came before its placeholder chunk is stored whole; the placeholder then adds nothing.
    const { filled, inserted } = await storeHistoryMedia(db, number, rows)
    result.mediaFilled = filled
    result.messages += inserted
    if (onboarding !== undefined && filled + inserted > 0) {
      await sql`UPDATE onboardings SET history_media_filled = history_media_filled + ${filled}, history_messages = history_messages + ${inserted},
        updated_at = ${at} WHERE id = ${onboarding.id}::uuid`.execute(db)
    }
  }
  return result
}

/** Returns the messages added, or undefined for a chunk already imported. */
async function importChunk (db: DbExecutor, number: NumberInfo, onboardingId: string | undefined, chunk: HistoryChunk, at: Date): Promise<number | undefined> {
  const errors = chunk.errors ?? []
  if (chunk.metadata === undefined) {
    const code = errors[0]?.code ?? 0
    if (onboardingId !== undefined) {
      await sql`UPDATE onboardings SET history_error_code = ${code}, updated_at = ${at} WHERE id = ${onboardingId}::uuid`.execute(db)
      const reason = code === HISTORY_DECLINED_CODE
        ? 'the business turned history sharing off in the WhatsApp Business app (2593109)'
        : `history sync failed at Meta (${code}${errors[0]?.title !== undefined ? ': ' + errors[0].title : ''})`
      const moved = await applyOnboardingEvent(db, onboardingId, { type: 'history_declined' }, reason, number, at)
      if (moved !== undefined) {
        await enqueueEvents(db, [domainEvent(number, `history:${onboardingId}:declined`, at, 'historyProgress',
          { phase: 0, chunkOrder: 0, progressPercent: 0, messagesImported: 0, state: 'declined', errorCode: code })])
      }
    }
    return 0
  }
  const { phase, chunk_order: chunkOrder, progress } = chunk.metadata
  const threads = chunk.threads ?? []
  if (onboardingId !== undefined) {
    const fresh = await sql`
      INSERT INTO history_chunks (onboarding_id, phase, chunk_order, progress, threads, messages)
      VALUES (${onboardingId}::uuid, ${phase}, ${chunkOrder}, ${Math.round(progress)}, ${threads.length}, 0)
      ON CONFLICT DO NOTHING`.execute(db)
    if (Number(fresh.numAffectedRows ?? 0) === 0) return undefined
  }
  const rows = threads.flatMap((t) => historyThreadRows(t, number.displayPhoneNumber))
  const inserted = await insertMessages(db, number, rows, { returnRows: false })
  if (onboardingId === undefined) return inserted.insertedCount

  await sql`UPDATE history_chunks SET messages = ${inserted.insertedCount}
    WHERE onboarding_id = ${onboardingId}::uuid AND phase = ${phase} AND chunk_order = ${chunkOrder}`.execute(db)
  const totals = (await sql<{ history_progress: number }>`
    UPDATE onboardings SET
      history_chunks = history_chunks + 1,
      history_messages = history_messages + ${inserted.insertedCount},
      history_threads = history_threads + ${inserted.newHistoryThreads},
      history_phase = CASE WHEN ${Math.round(progress)} >= history_progress THEN ${phase} ELSE history_phase END,
      history_progress = GREATEST(history_progress, ${Math.round(progress)}),
      updated_at = ${at}
    WHERE id = ${onboardingId}::uuid
    RETURNING history_progress`.execute(db)).rows[0]
  const overall = totals?.history_progress ?? Math.round(progress)
  const state = await applyOnboardingEvent(db, onboardingId, { type: 'history_chunk', progress: overall },
    overall >= 100 ? 'history import complete (progress 100)' : `importing history: ${overall} %`, number, at)
  await enqueueEvents(db, [domainEvent(number, `history:${onboardingId}:${phase}:${chunkOrder}`, at, 'historyProgress', {
    phase,
    chunkOrder,
    progressPercent: overall,
    messagesImported: inserted.insertedCount,
    state: (state ?? '') === 'complete' || overall >= 100 ? 'complete' : 'in_progress'
  })])
  return inserted.insertedCount
}
