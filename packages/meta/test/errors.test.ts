import t from 'tap'
import { CoexistError, hasCode } from '@coexist/errors'
import {
  META_ERROR_TABLE, MetaApiError, MetaErrors, buildGraphErrorBody, buildWebhookError, classifyMetaError,
  findMetaApiError, metaApiErrorFromBody, metaErrorSpec, metaHttpStatus, metaRetryDelayMs, parseGraphErrorBody
} from '../src/index.ts'

// Every code of facts file §7.2 (200–299 as a range).
const FACTS_CODES = [0, 1, 2, 3, 4, 10, 33, 100, 190, 368, 80007, 130429, 130472, 130497, 131000, 131005, 131008,
  131009, 131016, 131021, 131026, 131031, 131037, 131042, 131045, 131047, 131048, 131049, 131050, 131051, 131052,
  131053, 131056, 131057, 131060, 132000, 132001, 132005, 132007, 132012, 132015, 132016, 132068, 132069, 133000,
  133004, 133005, 133006, 133008, 133009, 133010, 133015, 133016, 134011, 135000, 2593107, 2593108, 2593109, 2494100]

t.test('table codes are unique and ranges do not overlap', async (t) => {
  const seen = new Set<number>()
  for (const s of META_ERROR_TABLE) {
    for (let c = s.code; c <= (s.codeMax ?? s.code); c++) {
      t.notOk(seen.has(c), `code ${c} appears once`)
      seen.add(c)
    }
    t.ok(s.title.length > 0)
    if (s.retryable) t.ok(s.backoffMs !== undefined && s.backoffMs > 0, `${s.code} retryable has a back-off hint`)
  }
})

t.test('every facts-file code is classified', async (t) => {
  for (const code of [...FACTS_CODES, 200, 250, 299]) {
    const c = classifyMetaError({ code })
    t.equal(c.known, true, `code ${code} known`)
    t.not(c.kind, 'permanent', `code ${code} has a specific kind`)
  }
  t.equal(metaErrorSpec(250)?.kind, 'permission')
  t.equal(metaErrorSpec(300), undefined)
})

t.test('kinds, statuses and back-off hints follow Meta', async (t) => {
  t.equal(classifyMetaError({ code: 130429 }).kind, 'throughput')
  t.equal(classifyMetaError({ code: 130429 }).scope, 'phone_number')
  t.equal(classifyMetaError({ code: 131056 }).kind, 'pair_rate')
  t.equal(classifyMetaError({ code: 131056 }).scope, 'recipient')
  t.equal(classifyMetaError({ code: 131047 }).kind, 'window_closed')
  t.equal(classifyMetaError({ code: 0 }).kind, 'token')
  t.equal(classifyMetaError({ code: 190 }).kind, 'token')
  t.equal(classifyMetaError({ code: 132001 }).kind, 'template')
  t.equal(classifyMetaError({ code: 132001 }).httpStatus, 404)
  for (const code of [131026, 131050, 131021]) t.equal(classifyMetaError({ code }).kind, 'recipient_permanent')
  t.equal(classifyMetaError({ code: 2593107 }).kind, 'sync')
  t.equal(classifyMetaError({ code: 2 }).httpStatus, 503)
  t.equal(classifyMetaError({ code: 2 }).retryable, true)
  t.equal(classifyMetaError({ code: 131026 }).retryable, false)
  t.ok((classifyMetaError({ code: 131049 }).backoffMs ?? 0) >= 24 * 3600_000)
  t.equal(classifyMetaError({ code: 131057 }).backoffMs, 60_000)
  t.equal(classifyMetaError({ code: 133015 }).backoffMs, 300_000)
  t.equal(metaRetryDelayMs(131056, 0), 1000)
  t.equal(metaRetryDelayMs(131056, 1), 4000)
  t.equal(metaRetryDelayMs(131056, 2), 16000)
  t.equal(metaRetryDelayMs(131056, 3), 64000)
  t.equal(metaRetryDelayMs(131056, 50), 1024_000)
  t.equal(metaRetryDelayMs(131026, 0), undefined)
  t.equal(metaRetryDelayMs({ code: 131057 }, 0), 60_000)
  t.equal(metaRetryDelayMs(131049, 5), 24 * 3600_000)
  t.equal(metaHttpStatus(131057), 500)
  t.equal(metaHttpStatus(2593109), 400)
})

t.test('classification accepts several shapes and never throws', async (t) => {
  t.equal(classifyMetaError({ error: { code: 190 } }).kind, 'token')
  t.equal(classifyMetaError(131056).kind, 'pair_rate')
  t.equal(classifyMetaError({ code: '131047' }).kind, 'window_closed')
  for (const bad of [null, undefined, 'x', {}, [], { code: 1.5 }, { error: null }, { code: 999999, title: 'New thing' }]) {
    const c = classifyMetaError(bad)
    t.equal(c.kind, 'permanent')
    t.equal(c.known, false)
  }
  t.equal(classifyMetaError({ code: 999999, title: 'New thing' }).title, 'New thing')
  const loop: Record<string, unknown> = {}
  loop.error = loop
  t.equal(classifyMetaError(loop).known, false)
})

t.test('Graph error bodies parse and map to MetaApiError', async (t) => {
  const body = parseGraphErrorBody(JSON.stringify({
    error: { message: '(#130429) Rate limit hit', type: 'OAuthException', code: 130429, error_data: { messaging_product: 'whatsapp', details: 'Cloud API message throughput has been reached.' }, error_subcode: 2494055, fbtrace_id: 'Az8or2yhqkZfEZ-_4Qn_Bam', extra: 1 }
  }))
  t.ok(body)
  if (body === undefined) return
  const err = metaApiErrorFromBody(body, 400)
  t.type(err, MetaApiError)
  t.type(err, CoexistError)
  t.equal(err.code, 'META_API_ERROR')
  t.equal(err.metaCode, 130429)
  t.equal(err.fbtraceId, 'Az8or2yhqkZfEZ-_4Qn_Bam')
  t.equal(err.details, 'Cloud API message throughput has been reached.')
  t.equal(err.errorSubcode, 2494055)
  t.equal(err.retryable, true)
  t.equal(err.classification.kind, 'throughput')
  t.ok(hasCode(new Error('outer', { cause: err }), 'META_API_ERROR'))
  t.equal(findMetaApiError(new Error('outer', { cause: err })), err)
  t.equal(parseGraphErrorBody('{not json'), undefined)
  t.equal(parseGraphErrorBody({ error: { code: 'x' } }), undefined)
  t.equal(parseGraphErrorBody({ data: [] }), undefined)
})

t.test('built bodies use the table titles', async (t) => {
  const b = buildGraphErrorBody(131056, { details: 'd', fbtraceId: 'f' })
  t.equal(b.error.message, '(#131056) (Business Account, Consumer Account) pair rate limit hit')
  t.same(parseGraphErrorBody(b), b)
  const w = buildWebhookError(131047)
  t.equal(w.title, 'Re-engagement message')
  t.equal(w.message, w.title)
})

t.test('own catalog codes carry the META_ prefix', async (t) => {
  for (const [name, f] of Object.entries(MetaErrors)) t.equal(f.code, name)
  t.equal(MetaErrors.META_OUTCOME_UNKNOWN.create().retryable, true)
})
