import t from 'tap'
import { activityLevel, daysInactive, DAY_MS } from '../../src/domain/app-activity.ts'
import { unsupportedCoexistenceCountry } from '../../src/domain/coexistence-countries.ts'
import { echoMessageRow, historyThreadRows, messageText, normalisePhone } from '../../src/domain/normalize.ts'
import { isTerminal, nextOnboardingState, syncRetryDelayMs } from '../../src/domain/onboarding.ts'
import { statusRank } from '../../src/domain/status-rank.ts'
import { SyncErrors } from '../../src/errors.ts'

t.test('status ranks: sent < delivered < read < played < failed; unknown is 0', async (t) => {
  t.ok(statusRank('sent') < statusRank('delivered') && statusRank('delivered') < statusRank('read') && statusRank('read') < statusRank('played'))
  t.ok(statusRank('failed') > statusRank('read'), 'failed is final')
  t.equal(statusRank('deleted'), 0)
})

t.test('onboarding state machine only moves forward', async (t) => {
  t.equal(nextOnboardingState('onboarded', { type: 'sync_accepted', syncType: 'smb_app_state_sync' }), 'contacts_sync_requested')
  t.equal(nextOnboardingState('history_sync_requested', { type: 'sync_accepted', syncType: 'smb_app_state_sync' }), undefined, 'a late contacts accept does not go back')
  t.equal(nextOnboardingState('onboarded', { type: 'history_chunk', progress: 10 }), 'importing', 'a chunk may come before the accept is recorded')
  t.equal(nextOnboardingState('importing', { type: 'history_chunk', progress: 50 }), undefined)
  t.equal(nextOnboardingState('importing', { type: 'history_chunk', progress: 100 }), 'complete')
  t.equal(nextOnboardingState('complete', { type: 'history_chunk', progress: 40 }), undefined)
  t.equal(nextOnboardingState('contacts_sync_requested', { type: 'window_expired' }), 'expired')
  t.equal(nextOnboardingState('expired', { type: 'history_chunk', progress: 30 }), 'importing', "Meta's chunks still count after our deadline")
  t.equal(nextOnboardingState('refused', { type: 'sync_accepted', syncType: 'history' }), undefined)
  t.equal(nextOnboardingState('importing', { type: 'history_declined' }), 'declined')
  t.ok(isTerminal('declined') && !isTerminal('importing'))
  t.equal(syncRetryDelayMs(1, () => 0.5), 2000)
  t.equal(syncRetryDelayMs(20, () => 0.5), 300_000, 'capped at 5 minutes')
})

t.test('unsupported coexistence countries by calling code', async (t) => {
  t.match(unsupportedCoexistenceCountry('+234 803 555 0100'), { iso: 'NG' })
  t.match(unsupportedCoexistenceCountry('0027825550100'), { iso: 'ZA' })
  t.equal(unsupportedCoexistenceCountry('+55 11 99999-0000'), undefined)
  t.equal(unsupportedCoexistenceCountry('+1 650 555 0100'), undefined)
})

t.test('app activity levels before the ~14-day limit', async (t) => {
  const t0 = new Date('2026-01-01T00:00:00Z')
  t.equal(activityLevel(t0, new Date(t0.getTime() + 9.9 * DAY_MS)), undefined)
  t.equal(activityLevel(t0, new Date(t0.getTime() + 10 * DAY_MS)), 'warning')
  t.equal(activityLevel(t0, new Date(t0.getTime() + 13 * DAY_MS)), 'critical')
  t.equal(daysInactive(t0, new Date(t0.getTime() + 13.9 * DAY_MS)), 13)
})

t.test('normalisation: phones, preview text, history direction, echo recipient', async (t) => {
  t.equal(normalisePhone('+1 (650) 555-1234'), '16505551234')
  t.equal(normalisePhone(''), null)
  t.equal(normalisePhone('BR.abc'), 'BR.abc', 'not a phone: kept')
  t.equal(messageText({ type: 'image', image: { caption: 'look' } }), 'look')
  t.equal(messageText({ type: 'interactive', interactive: { type: 'button_reply', button_reply: { id: 'y', title: 'Yes' } } }), 'Yes')
  t.equal(messageText({ type: 'edit', edit: { message: { text: { body: 'fixed' } } } }), 'fixed')
  const rows = historyThreadRows({
    id: '5511988887777',
    messages: [
      { id: 'w1', from: '5511988887777', timestamp: '1745000000', type: 'text', text: { body: 'hi' }, history_context: { status: 'READ' } },
      { id: 'w2', from: '5511999990000', to: '5511988887777', timestamp: '1745000100', type: 'media_placeholder', history_context: { status: 'DELIVERED' } }
    ]
  }, '+55 11 99999-0000')
  t.same(rows.map((r) => [r.direction, r.source, r.mediaPending, r.customer.waId, r.historyStatus]),
    [['inbound', 'history', false, '5511988887777', 'READ'], ['outbound', 'history', true, '5511988887777', 'DELIVERED']])
  const echo = echoMessageRow({ id: 'e1', from: '5511999990000', to: '+1 650-555-1234', timestamp: '1751400400', type: 'text', text: { body: 'ok' } })
  t.equal(echo.customer.waId, '16505551234')
  t.equal(echo.source, 'business_app')
})

t.test('error catalog: SYNC_ codes, unique, statuses set', async (t) => {
  const codes = Object.keys(SyncErrors)
  t.equal(new Set(codes).size, codes.length)
  for (const c of codes) {
    const f = SyncErrors[c as keyof typeof SyncErrors]
    t.equal(f.code, c)
    t.ok(c.startsWith('SYNC_'))
    t.type(f.spec.status, 'number')
  }
  t.notOk(SyncErrors.SYNC_RECORD_INVALID.create().retryable, 'invalid records are dead-lettered, not retried')
})
