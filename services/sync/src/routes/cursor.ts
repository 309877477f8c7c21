import { SyncErrors } from '../errors.ts'

/** Keyset cursor: the (time, id) of the last row served, base64url JSON. Opaque to clients. */
export function encodeCursor (at: Date, id: string | number): string {
  return Buffer.from(JSON.stringify([at.toISOString(), String(id)])).toString('base64url')
}

/** Decodes a cursor; a malformed one is a 400 naming the `cursor` field. */
export function decodeCursor (cursor: string): { at: Date, id: string } {
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown
    if (Array.isArray(v) && v.length === 2 && typeof v[0] === 'string' && typeof v[1] === 'string') {
      const at = new Date(v[0])
      if (!Number.isNaN(at.getTime())) return { at, id: v[1] }
    }
  } catch { /* fall through */ }
  throw SyncErrors.SYNC_CURSOR_INVALID.create({ detail: { field: 'cursor' } })
}
