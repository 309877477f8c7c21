import { createHash } from 'node:crypto'
import { inspect } from 'node:util'
import t from 'tap'
import {
  createPhoneNumber, createTenant, createTokenCipher, DbErrors, getAccessToken, getPhoneNumber, reencryptTokens, sql, tokenKeyId, upsertWaba
} from '../src/index.ts'
import { metaId, newKey, openDb } from './helpers.ts'

const TOKEN = 'EAAG-meta-token-ÿ-✓-' + 'x'.repeat(200)

t.test('round trip, layout iv|ciphertext|tag, fresh iv each time', async (t) => {
  const key = newKey()
  const cipher = createTokenCipher({ current: key })
  t.equal(cipher.currentKeyId, createHash('sha256').update(key).digest('hex').slice(0, 8))
  t.equal(tokenKeyId(key), cipher.currentKeyId)

  const a = cipher.encrypt(TOKEN)
  const b = cipher.encrypt(TOKEN)
  t.equal(a.keyId, cipher.currentKeyId)
  t.equal(a.ciphertext.length, 12 + Buffer.byteLength(TOKEN) + 16)
  t.notSame(a.ciphertext.subarray(0, 12), b.ciphertext.subarray(0, 12), 'a random iv per encryption')
  t.notOk(a.ciphertext.equals(b.ciphertext))
  t.notOk(a.ciphertext.includes(Buffer.from('meta-token')), 'no plaintext in the ciphertext')
  t.equal(cipher.decrypt(a.ciphertext, a.keyId), TOKEN)
  t.equal(cipher.decrypt(b.ciphertext, b.keyId), TOKEN)
  t.equal(cipher.decrypt(cipher.encrypt('').ciphertext, cipher.currentKeyId), '')

  const bound = cipher.encrypt(TOKEN, 'phone_numbers:1')
  t.equal(cipher.decrypt(bound.ciphertext, bound.keyId, 'phone_numbers:1'), TOKEN)
})

t.test('tampering is detected with a coded error', async (t) => {
  const cipher = createTokenCipher({ current: newKey() })
  const { ciphertext, keyId } = cipher.encrypt(TOKEN, 'ctx')
  for (const [what, at] of [['iv', 0], ['body', 20], ['tag', ciphertext.length - 1]] as const) {
    const bad = Buffer.from(ciphertext)
    bad[at] = (bad[at] ?? 0) ^ 0x01
    t.throws(() => cipher.decrypt(bad, keyId, 'ctx'), { code: 'DB_TOKEN_DECRYPT_FAILED' }, `a flipped ${what} bit`)
  }
  t.throws(() => cipher.decrypt(ciphertext.subarray(0, 27), keyId, 'ctx'), { code: 'DB_TOKEN_DECRYPT_FAILED' }, 'truncated')
  t.throws(() => cipher.decrypt(ciphertext.subarray(0, ciphertext.length - 1), keyId, 'ctx'), { code: 'DB_TOKEN_DECRYPT_FAILED' }, 'tag cut')
  t.throws(() => cipher.decrypt(ciphertext, keyId, 'other'), { code: 'DB_TOKEN_DECRYPT_FAILED' }, 'another context')
  t.throws(() => cipher.decrypt(ciphertext, keyId), { code: 'DB_TOKEN_DECRYPT_FAILED' }, 'context missing')
  t.throws(() => cipher.decrypt(ciphertext, 'deadbeef', 'ctx'), { code: 'DB_TOKEN_KEY_UNKNOWN' }, 'unknown key id')
  // Same id, other key: cannot be configured, but a forged key id must still fail closed.
  const other = createTokenCipher({ current: newKey() })
  t.throws(() => other.decrypt(ciphertext, other.currentKeyId, 'ctx'), { code: 'DB_TOKEN_DECRYPT_FAILED' })
})

t.test('keys must be 32 bytes; the cipher object holds no key material', async (t) => {
  t.throws(() => createTokenCipher({ current: Buffer.alloc(16) }), { code: 'DB_TOKEN_KEY_INVALID' })
  t.throws(() => createTokenCipher({ current: newKey(), previous: [Buffer.alloc(31)] }), { code: 'DB_TOKEN_KEY_INVALID' })
  const key = newKey()
  const cipher = createTokenCipher({ current: key, previous: [key] }) // a duplicate is harmless
  const shown = JSON.stringify(cipher) + inspect(cipher, { showHidden: true, depth: 5 })
  t.notOk(shown.includes(key.toString('hex')) || shown.includes(key.toString('base64')))
  // The cipher keeps its own copy: the caller may wipe its buffer.
  const { ciphertext, keyId } = cipher.encrypt(TOKEN)
  key.fill(0)
  t.equal(cipher.decrypt(ciphertext, keyId), TOKEN)
})

t.test('rotation: the previous key still decrypts, and only it', async (t) => {
  const oldKey = newKey()
  const old = createTokenCipher({ current: oldKey })
  const sealed = old.encrypt(TOKEN)
  const rotated = createTokenCipher({ current: newKey(), previous: [oldKey] })
  t.not(rotated.currentKeyId, old.currentKeyId)
  t.ok(rotated.hasKey(old.currentKeyId))
  t.equal(rotated.decrypt(sealed.ciphertext, sealed.keyId), TOKEN)
  t.equal(rotated.encrypt(TOKEN).keyId, rotated.currentKeyId, 'new ciphertexts use the current key')
  const dropped = createTokenCipher({ current: newKey() })
  const err = t.throws(() => dropped.decrypt(sealed.ciphertext, sealed.keyId))
  t.ok(DbErrors.DB_TOKEN_KEY_UNKNOWN.is(err))
})

t.test('reencryptTokens rewrites rows under old keys, in batches, once', async (t) => {
  const db = await openDb(t)
  const k1 = newKey()
  const k2 = newKey()
  const c1 = createTokenCipher({ current: k1 })
  const c2 = createTokenCipher({ current: k2, previous: [k1] })
  const tenant = await createTenant(db, { name: 'acme' })
  const waba = await upsertWaba(db, { id: metaId(), tenantId: tenant.id })
  const ids = [metaId(), metaId(), metaId()]
  const noToken = metaId()
  for (const [i, id] of ids.entries()) {
    // Row 2 is already under the current key: left alone.
    await createPhoneNumber(db, i === 2 ? c2 : c1, { id, tenantId: tenant.id, wabaId: waba.id, displayPhoneNumber: `+1555000${i}`, mode: 'cloud_api', accessToken: `token-${i}` })
  }
  await createPhoneNumber(db, c1, { id: noToken, tenantId: tenant.id, wabaId: waba.id, displayPhoneNumber: '+15559999', mode: 'cloud_api' })
  const before = await db.selectFrom('phone_numbers').select(['id', 'access_token_enc', 'updated_at']).where('id', '=', ids[2] as string).executeTakeFirstOrThrow()

  t.equal(await reencryptTokens(db, c2, { batchSize: 1 }), 2)
  const rows = await db.selectFrom('phone_numbers').select(['id', 'token_key_id', 'access_token_enc']).orderBy('id').execute()
  for (const r of rows) t.equal(r.token_key_id, r.id === noToken ? null : c2.currentKeyId)
  const untouched = rows.find((r) => r.id === ids[2])
  t.ok(untouched?.access_token_enc?.equals(before.access_token_enc as Buffer), 'a current row is not rewritten')

  // The old key can go now.
  const onlyNew = createTokenCipher({ current: k2 })
  for (const [i, id] of ids.entries()) t.equal(await getAccessToken(db, onlyNew, id), `token-${i}`)
  t.equal(await getAccessToken(db, onlyNew, noToken), undefined)
  t.equal(await reencryptTokens(db, onlyNew), 0, 'idempotent')
  t.equal((await getPhoneNumber(db, ids[0] as string))?.has_access_token, true)
})

t.test('reencryptTokens refuses a token under a key that is not configured', async (t) => {
  const db = await openDb(t)
  const lost = createTokenCipher({ current: newKey() })
  const tenant = await createTenant(db, { name: 'acme' })
  const waba = await upsertWaba(db, { id: metaId(), tenantId: tenant.id })
  const id = metaId()
  await createPhoneNumber(db, lost, { id, tenantId: tenant.id, wabaId: waba.id, displayPhoneNumber: '+15550001', mode: 'cloud_api', accessToken: TOKEN })
  const cipher = createTokenCipher({ current: newKey() })
  const err = await t.rejects(reencryptTokens(db, cipher), { code: 'DB_TOKEN_KEY_UNKNOWN' })
  t.match((err as unknown as { detail: unknown }).detail, { phoneNumberId: id, keyId: lost.currentKeyId })
  t.notOk(String(inspect(err)).includes(TOKEN))
  const { rows } = await sql<{ n: number }>`select count(*)::int as n from phone_numbers where token_key_id = ${lost.currentKeyId}`.execute(db)
  t.equal(rows[0]?.n, 1, 'nothing rewritten')
})
