/**
 * Outbound statuses only move forward (invariant 3): sent < delivered < read < played, and
 * `failed` is final. Meta delivers status webhooks out of order and skips `delivered` when a
 * message is read at once, so the stored status is the highest rank seen, never the latest.
 * Unknown statuses (e.g. the old `deleted`) rank 0: kept in the audit trail, never applied.
 */
const STATUS_RANK: Readonly<Record<string, number>> = Object.freeze({
  sent: 1,
  delivered: 2,
  read: 3,
  played: 4,
  failed: 5
})

/** Rank of a Meta status value; 0 for one we do not know. */
export function statusRank (status: string): number {
  return STATUS_RANK[status] ?? 0
}
