import t from 'tap'
import { createHmac } from 'node:crypto'
import { MetaErrors, checkVerifyChallenge, createSignatureVerifier, parseAppSecrets, signBody, verifySignature } from '../src/index.ts'

const SECRET = 'app-secret-1'
// Meta's bytes: non-ASCII escaped as \uXXXX and "/" escaped as "\/".
const RAW = Buffer.from('{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"text":"Ol\\u00e1 \\ud83d\\udc4d","url":"https:\\/\\/x.example\\/a"}}]}]}')

t.test('a body signed by Meta verifies over its raw bytes', async (t) => {
  const header = 'sha256=' + createHmac('sha256', SECRET).update(RAW).digest('hex')
  t.equal(signBody(RAW, SECRET), header)
  t.same(verifySignature(RAW, header, [SECRET]), { ok: true })
  t.same(verifySignature(RAW, header.toUpperCase().replace('SHA256=', 'sha256='), [SECRET]), { ok: true }, 'uppercase hex accepted')
  t.same(verifySignature(RAW, ` ${header} `, [SECRET]), { ok: true }, 'surrounding spaces ignored')
  t.same(verifySignature(RAW, [header], [SECRET]), { ok: true })
})

t.test('re-serialised JSON does not verify', async (t) => {
  const header = signBody(RAW, SECRET)
  const reserialised = Buffer.from(JSON.stringify(JSON.parse(RAW.toString())))
  t.not(reserialised.toString(), RAW.toString(), 'JSON.stringify drops the \\u and \\/ escapes')
  t.same(verifySignature(reserialised, header, [SECRET]), { ok: false, reason: 'mismatch' })
})

t.test('tampered bodies, wrong and missing headers fail', async (t) => {
  const header = signBody(RAW, SECRET)
  const tampered = Buffer.from(RAW)
  tampered[tampered.length - 3] = 0x41
  t.same(verifySignature(tampered, header, [SECRET]), { ok: false, reason: 'mismatch' })
  t.same(verifySignature(Buffer.concat([RAW, Buffer.from(' ')]), header, [SECRET]), { ok: false, reason: 'mismatch' })
  t.same(verifySignature(RAW, signBody(RAW, 'other'), [SECRET]), { ok: false, reason: 'mismatch' })
  t.same(verifySignature(RAW, undefined, [SECRET]), { ok: false, reason: 'missing' })
  t.same(verifySignature(RAW, '', [SECRET]), { ok: false, reason: 'missing' })
  t.same(verifySignature(RAW, [], [SECRET]), { ok: false, reason: 'missing' })
  for (const bad of ['sha1=' + 'a'.repeat(40), header.slice(7), 'sha256=' + 'z'.repeat(64), header + '00', header.slice(0, -2), 'sha256=', [header, header]]) {
    t.same(verifySignature(RAW, bad, [SECRET]), { ok: false, reason: 'malformed' }, `malformed: ${String(bad).slice(0, 20)}`)
  }
  t.same(verifySignature(RAW, header, []), { ok: false, reason: 'mismatch' }, 'no secrets never matches')
  t.same(verifySignature(RAW, signBody(RAW, ''), ['']), { ok: false, reason: 'mismatch' }, 'empty secret ignored')
})

t.test('several secrets per app allow rotation', async (t) => {
  const oldSig = signBody(RAW, 'old')
  const newSig = signBody(RAW, 'new')
  t.same(verifySignature(RAW, oldSig, ['new', 'old']), { ok: true })
  t.same(verifySignature(RAW, newSig, ['new', 'old']), { ok: true })
  const v = createSignatureVerifier(new Map([['app1', ['new', 'old']], ['app2', ['two']]]))
  t.same(v.appIds, ['app1', 'app2'])
  t.same(v.verifyForApp('app1', RAW, oldSig), { ok: true, appId: 'app1' })
  t.same(v.verifyForApp('app2', RAW, oldSig), { ok: false, reason: 'mismatch' })
  t.same(v.verifyForApp('nope', RAW, oldSig), { ok: false, reason: 'unknown_app' })
  t.same(v.verifyAny(RAW, signBody(RAW, 'two')), { ok: true, appId: 'app2' })
  t.same(v.verifyAny(RAW, signBody(RAW, 'x')), { ok: false, reason: 'mismatch' })
  t.same(v.verifyAny(RAW, undefined), { ok: false, reason: 'missing' })
  t.same(v.verifyAny(RAW, 'sha256=zz'), { ok: false, reason: 'malformed' })
})

t.test('a verifier with no usable secret is refused', async (t) => {
  t.throws(() => createSignatureVerifier(new Map()), { code: 'META_NO_APP_SECRETS' })
  t.throws(() => createSignatureVerifier(new Map([['app1', []]])), { code: 'META_NO_APP_SECRETS' })
  t.throws(() => createSignatureVerifier(new Map([['app1', ['']]])), { code: 'META_NO_APP_SECRETS' })
  t.throws(() => createSignatureVerifier(new Map([['', ['s']]])), { code: 'META_NO_APP_SECRETS' })
  try { createSignatureVerifier(new Map()) } catch (err) { t.ok(MetaErrors.META_NO_APP_SECRETS.is(err)) }
})

t.test('META_APP_SECRETS text parses into a rotation map', async (t) => {
  t.same([...parseAppSecrets('a1:s1, a1:s2,a2:x:y')], [['a1', ['s1', 's2']], ['a2', ['x:y']]])
  t.same([...parseAppSecrets('')], [])
  t.throws(() => parseAppSecrets('a1:'), { code: 'META_CONFIG_INVALID' })
  try { parseAppSecrets('a1:ok,justasecret') } catch (err) { t.notMatch((err as Error).message, /justasecret/) }
})

t.test('GET handshake', async (t) => {
  const q = { 'hub.mode': 'subscribe', 'hub.verify_token': 'tok', 'hub.challenge': '1158201444' }
  t.same(checkVerifyChallenge(q, 'tok'), { ok: true, challenge: '1158201444' })
  t.same(checkVerifyChallenge(new URLSearchParams(q), 'tok'), { ok: true, challenge: '1158201444' })
  t.same(checkVerifyChallenge({ ...q, 'hub.verify_token': 'tok2' }, 'tok'), { ok: false, reason: 'token_mismatch' })
  t.same(checkVerifyChallenge({ ...q, 'hub.verify_token': 'to' }, 'tok'), { ok: false, reason: 'token_mismatch' })
  t.same(checkVerifyChallenge({ ...q, 'hub.mode': 'unsubscribe' }, 'tok'), { ok: false, reason: 'wrong_mode' })
  t.same(checkVerifyChallenge({ 'hub.verify_token': 'tok' }, 'tok'), { ok: false, reason: 'missing_mode' })
  t.same(checkVerifyChallenge({ 'hub.mode': 'subscribe' }, 'tok'), { ok: false, reason: 'missing_token' })
  t.same(checkVerifyChallenge({ 'hub.mode': 'subscribe', 'hub.verify_token': 'tok' }, 'tok'), { ok: false, reason: 'missing_challenge' })
  t.same(checkVerifyChallenge({ ...q, 'hub.verify_token': '' }, ''), { ok: false, reason: 'missing_token' })
  t.same(checkVerifyChallenge({ ...q, 'hub.mode': ['subscribe', 'x'] }, 'tok'), { ok: true, challenge: '1158201444' })
})
