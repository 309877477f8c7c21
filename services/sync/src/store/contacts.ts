import { sql, type DbExecutor } from '@coexist/db'

/** The business number a write belongs to (walls: every row carries the tenant). */
export interface NumberRef {
  tenantId: string
  phoneNumberId: string
  wabaId: string
}

/** How Meta names a customer: by phone (`wa_id`), by business-scoped user id, or both. */
export interface CustomerIdentity {
  waId: string | null
  userId: string | null
  profileName?: string | null
  username?: string | null
}

/** The map key of an identity: the phone when known (a user id joins that contact). */
export function identityKey (i: { waId: string | null, userId: string | null }): string {
  return i.waId !== null && i.waId !== '' ? 'w:' + i.waId : 'u:' + (i.userId ?? '')
}

/** Meta sends empty strings where a user hides behind a username; treat them as absent. */
function cleanId (v: string | null | undefined): string | null {
  return v === undefined || v === null || v.trim() === '' ? null : v
}

interface ContactHit { id: string, wa_id: string | null, user_id: string | null }

/**
 * Finds or creates the contact of each identity, in bulk: one upsert for the identities with a
 * phone, one for those known only by user id, plus a merge for each phone first seen with a user
 * id already known on its own (rare). Returns identityKey → contact id. Profile names and
 * usernames fill in when Meta sends them.
 */
export async function resolveContacts (db: DbExecutor, number: NumberRef, identities: readonly CustomerIdentity[]): Promise<Map<string, string>> {
  const byKey = new Map<string, CustomerIdentity>()
  for (const raw of identities) {
    const i = { ...raw, waId: cleanId(raw.waId), userId: cleanId(raw.userId) }
    if (i.waId === null && i.userId === null) continue
    const k = identityKey(i)
    const prev = byKey.get(k)
    byKey.set(k, prev === undefined
      ? i
      : { waId: i.waId, userId: i.userId ?? prev.userId, profileName: i.profileName ?? prev.profileName, username: i.username ?? prev.username })
  }
  const out = new Map<string, string>()
  // Sorted: concurrent transactions then take row locks in the same order (no deadlock).
  const withPhone = [...byKey.values()].filter((i) => i.waId !== null).sort((a, b) => (a.waId as string) < (b.waId as string) ? -1 : 1)
  const userOnly = [...byKey.values()].filter((i) => i.waId === null).sort((a, b) => (a.userId as string) < (b.userId as string) ? -1 : 1)

  if (withPhone.length > 0) {
    const hits = await upsertBy(db, number, 'wa_id', withPhone.map((i) => i.waId as string), withPhone)
    const found = new Map(hits.map((h) => [h.wa_id as string, h]))
    for (const i of withPhone) {
      const hit = found.get(i.waId as string)
      if (hit === undefined) throw new Error(`contact ${i.waId ?? ''} not resolved`)
      out.set(identityKey(i), hit.id)
      if (i.userId !== null && hit.user_id !== i.userId && hit.user_id === null) {
        await attachUserId(db, number, hit.id, i.userId)
      }
    }
  }
  if (userOnly.length > 0) {
    const hits = await upsertBy(db, number, 'user_id', userOnly.map((i) => i.userId as string), userOnly)
    const found = new Map(hits.map((h) => [h.user_id as string, h]))
    for (const i of userOnly) {
      const hit = found.get(i.userId as string)
      if (hit === undefined) throw new Error(`contact ${i.userId ?? ''} not resolved`)
      out.set(identityKey(i), hit.id)
    }
  }
  return out
}

async function upsertBy (db: DbExecutor, number: NumberRef, column: 'wa_id' | 'user_id', keys: string[], ids: CustomerIdentity[]): Promise<ContactHit[]> {
  const names = ids.map((i) => i.profileName ?? null)
  const usernames = ids.map((i) => i.username ?? null)
  const col = sql.ref(column)
  const statement = sql<ContactHit & { inserted: boolean }>`
    WITH input AS (SELECT * FROM unnest(${keys}::text[], ${names}::text[], ${usernames}::text[]) AS i(k, profile_name, username)),
    ins AS (
      INSERT INTO contacts (tenant_id, phone_number_id, ${col}, profile_name, username)
      SELECT ${number.tenantId}::uuid, ${number.phoneNumberId}, k, profile_name, username FROM input
      ON CONFLICT (phone_number_id, ${col}) DO NOTHING
      RETURNING id, wa_id, user_id)
    SELECT id, wa_id, user_id, true AS inserted FROM ins
    UNION ALL
    SELECT c.id, c.wa_id, c.user_id, false FROM contacts c JOIN input i ON c.${col} = i.k WHERE c.phone_number_id = ${number.phoneNumberId}`
  let rows = (await statement.execute(db)).rows
  if (rows.length < keys.length) {
    // A concurrent transaction inserted some of them after our snapshot: read them now.
    rows = (await sql<ContactHit & { inserted: boolean }>`
      SELECT id, wa_id, user_id, false AS inserted FROM contacts
      WHERE phone_number_id = ${number.phoneNumberId} AND ${col} = ANY(${keys}::text[])`.execute(db)).rows
  }
  // Names and usernames change; only rows that actually differ are rewritten.
  if (names.some((n) => n !== null) || usernames.some((n) => n !== null)) {
    await sql`
      UPDATE contacts c SET profile_name = COALESCE(i.profile_name, c.profile_name), username = COALESCE(i.username, c.username), updated_at = now()
      FROM unnest(${keys}::text[], ${names}::text[], ${usernames}::text[]) AS i(k, profile_name, username)
      WHERE c.phone_number_id = ${number.phoneNumberId} AND c.${col} = i.k
        AND (c.profile_name IS DISTINCT FROM COALESCE(i.profile_name, c.profile_name) OR c.username IS DISTINCT FROM COALESCE(i.username, c.username))`.execute(db)
  }
  return rows
}

/**
 * Gives the contact known by phone its business-scoped user id. When another contact already
 * holds that user id (the user wrote before Meta told us their phone), that contact is merged
 * into this one: its conversation and messages move over, and it is deleted.
 */
async function attachUserId (db: DbExecutor, number: NumberRef, contactId: string, userId: string): Promise<void> {
  const other = await sql<{ id: string, wa_id: string | null, username: string | null, profile_name: string | null }>`
    SELECT id, wa_id, username, profile_name FROM contacts
    WHERE phone_number_id = ${number.phoneNumberId} AND user_id = ${userId} FOR UPDATE`.execute(db)
  const b = other.rows[0]
  if (b === undefined) {
    await sql`UPDATE contacts SET user_id = ${userId}, updated_at = now() WHERE id = ${contactId}::uuid AND user_id IS NULL`.execute(db)
    return
  }
  if (b.id === contactId || b.wa_id !== null) return // already one, or a different phone: keep both as they are
  // Conversation first (the contact's delete would cascade to it), then the user id moves over.
  await mergeConversations(db, number, b.id, contactId)
  await sql`DELETE FROM contacts WHERE id = ${b.id}::uuid`.execute(db)
  await sql`
    UPDATE contacts SET user_id = ${userId}, username = COALESCE(username, ${b.username}), profile_name = COALESCE(profile_name, ${b.profile_name}), updated_at = now()
    WHERE id = ${contactId}::uuid`.execute(db)
}

async function mergeConversations (db: DbExecutor, number: NumberRef, fromContact: string, toContact: string): Promise<void> {
  const convs = (await sql<{ id: string, contact_id: string }>`
    SELECT id, contact_id FROM conversations WHERE phone_number_id = ${number.phoneNumberId}
      AND contact_id IN (${fromContact}::uuid, ${toContact}::uuid) FOR UPDATE`.execute(db)).rows
  const from = convs.find((c) => c.contact_id === fromContact)
  const to = convs.find((c) => c.contact_id === toContact)
  if (from === undefined) return
  if (to === undefined) {
    await sql`UPDATE conversations SET contact_id = ${toContact}::uuid, updated_at = now() WHERE id = ${from.id}::uuid`.execute(db)
    return
  }
  await sql`UPDATE messages SET conversation_id = ${to.id}::uuid WHERE conversation_id = ${from.id}::uuid`.execute(db)
  await sql`
    UPDATE conversations t SET
      message_count = t.message_count + f.message_count,
      last_inbound_at = GREATEST(t.last_inbound_at, f.last_inbound_at),
      history_imported = t.history_imported OR f.history_imported,
      last_message_at = CASE WHEN (f.last_message_at, f.last_message_wamid) > (t.last_message_at, t.last_message_wamid) OR t.last_message_at IS NULL THEN f.last_message_at ELSE t.last_message_at END,
      last_message_wamid = CASE WHEN (f.last_message_at, f.last_message_wamid) > (t.last_message_at, t.last_message_wamid) OR t.last_message_at IS NULL THEN f.last_message_wamid ELSE t.last_message_wamid END,
      last_message_direction = CASE WHEN (f.last_message_at, f.last_message_wamid) > (t.last_message_at, t.last_message_wamid) OR t.last_message_at IS NULL THEN f.last_message_direction ELSE t.last_message_direction END,
      last_message_preview = CASE WHEN (f.last_message_at, f.last_message_wamid) > (t.last_message_at, t.last_message_wamid) OR t.last_message_at IS NULL THEN f.last_message_preview ELSE t.last_message_preview END,
      owner = CASE WHEN f.owner_changed_at > COALESCE(t.owner_changed_at, '-infinity') THEN f.owner ELSE t.owner END,
      owner_changed_at = GREATEST(t.owner_changed_at, f.owner_changed_at),
      updated_at = now()
    FROM conversations f WHERE t.id = ${to.id}::uuid AND f.id = ${from.id}::uuid`.execute(db)
  await sql`DELETE FROM conversations WHERE id = ${from.id}::uuid`.execute(db)
}

/** Finds or creates the conversation of each contact, in bulk: contact id → conversation id. */
export async function resolveConversations (db: DbExecutor, number: NumberRef, contactIds: readonly string[]): Promise<Map<string, string>> {
  const ids = [...new Set(contactIds)].sort()
  if (ids.length === 0) return new Map()
  const statement = sql<{ id: string, contact_id: string }>`
    WITH input AS (SELECT unnest(${ids}::uuid[]) AS contact_id),
    ins AS (
      INSERT INTO conversations (tenant_id, phone_number_id, contact_id)
      SELECT ${number.tenantId}::uuid, ${number.phoneNumberId}, contact_id FROM input
      ON CONFLICT (phone_number_id, contact_id) DO NOTHING
      RETURNING id, contact_id)
    SELECT id, contact_id FROM ins
    UNION ALL
    SELECT c.id, c.contact_id FROM conversations c JOIN input i USING (contact_id) WHERE c.phone_number_id = ${number.phoneNumberId}`
  let rows = (await statement.execute(db)).rows
  if (rows.length < ids.length) {
    rows = (await sql<{ id: string, contact_id: string }>`
      SELECT id, contact_id FROM conversations WHERE phone_number_id = ${number.phoneNumberId} AND contact_id = ANY(${ids}::uuid[])`.execute(db)).rows
  }
  return new Map(rows.map((r) => [r.contact_id, r.id]))
}
