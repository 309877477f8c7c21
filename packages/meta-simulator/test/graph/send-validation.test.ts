import t from 'tap'
import { SendMessageBodySchema } from '@coexist/meta'
import { validateMarkAsRead, validateSendBody, validateSmbAppData, waIdOf } from '../../src/graph/send-validation.ts'

const code = (body: unknown): number | undefined => {
  const r = validateSendBody(body)
  return r.ok ? undefined : (r.answer.body.error.code)
}

t.test('valid bodies of several types', async (t) => {
  t.equal(code({ messaging_product: 'whatsapp', to: '+5511988887777', type: 'text', text: { body: 'hi' } }), undefined)
  t.equal(code({ messaging_product: 'whatsapp', to: '+5511988887777', text: { body: 'type defaults to text' } }), undefined)
  t.equal(code({ messaging_product: 'whatsapp', to: '+55', type: 'image', image: { link: 'https://cdn.example.com/a.jpg' } }), undefined)
  t.equal(code({ messaging_product: 'whatsapp', to: '+55', type: 'template', template: { name: 'order_update', language: { code: 'pt_BR' }, components: [{ type: 'body', parameters: [] }] } }), undefined)
  t.equal(code({ messaging_product: 'whatsapp', to: '+55', type: 'reaction', reaction: { message_id: 'wamid.X', emoji: '👍' } }), undefined)
  t.equal(code({ messaging_product: 'whatsapp', to: '+55', type: 'interactive', interactive: { type: 'button', body: { text: 'ok?' }, action: { buttons: [{ type: 'reply', reply: { id: 'y', title: 'Yes' } }] } } }), undefined)
})

t.test('envelope problems are 100, missing fields 131008, bad values 131009', async (t) => {
  t.equal(code('not an object'), 100)
  t.equal(code({ to: '+55', text: { body: 'x' } }), 100, 'messaging_product missing')
  t.equal(code({ messaging_product: 'sms', to: '+55', text: { body: 'x' } }), 100, 'messaging_product wrong')
  t.equal(code({ messaging_product: 'whatsapp', text: { body: 'x' } }), 100, 'to missing')
  t.equal(code({ messaging_product: 'whatsapp', to: '+55', type: 'text' }), 131008, 'text object missing')
  t.equal(code({ messaging_product: 'whatsapp', to: '+55', type: 'text', text: {} }), 131008, 'text.body missing')
  t.equal(code({ messaging_product: 'whatsapp', to: '+55', type: 'text', text: { body: 'x'.repeat(4097) } }), 131009, 'body too long')
  t.equal(code({ messaging_product: 'whatsapp', to: '+55', type: 'hologram' }), 131009, 'unknown type')
  t.equal(code({ messaging_product: 'whatsapp', to: '+55', type: 'template', template: { name: 'Bad Name', language: { code: 'en' } } }), 131009)
  t.equal(code({ messaging_product: 'whatsapp', to: '+55', type: 'image', image: {} }), 131009, 'neither id nor link')
  const r = validateSendBody({ messaging_product: 'whatsapp', to: '+55', type: 'text', text: {} })
  t.match(r.ok ? '' : r.answer.body.error.error_data?.details, /text\['body'\]/, 'details name the field')
})

t.test('wa_id is the digits of the input', async (t) => {
  t.equal(waIdOf('+55 (11) 98888-7777'), '5511988887777')
})

t.test('BSUID recipients, mark-as-read and smb_app_data bodies', async (t) => {
  const r = validateSendBody({ messaging_product: 'whatsapp', recipient: 'BR.12345abcdef', type: 'text', text: { body: 'hi' } })
  t.same(r.ok && { to: r.value.to, bsuid: r.value.bsuid }, { to: 'BR.12345abcdef', bsuid: true })
  t.equal(code({ messaging_product: 'whatsapp', to: '+55', type: 'template', context: { message_id: 'wamid.X' }, template: { name: 'a', language: { code: 'en' } } }), 131009, 'no quoted reply with a template')
  t.ok(validateMarkAsRead({ messaging_product: 'whatsapp', status: 'read', message_id: 'wamid.X' }).ok)
  t.notOk(validateMarkAsRead({ messaging_product: 'whatsapp', status: 'read' }).ok)
  t.ok(validateSmbAppData({ messaging_product: 'whatsapp', sync_type: 'history' }).ok)
  const bad = validateSmbAppData({ messaging_product: 'whatsapp', sync_type: 'all' })
  t.equal(bad.ok ? 0 : bad.answer.body.error.code, 100)
})

t.test('common template sends: the hand check and the schema give the same answers', async (t) => {
  const base = { messaging_product: 'whatsapp', to: '+5511988887777', type: 'template', template: { name: 'order_update', language: { code: 'pt_BR' } } }
  const variants: Array<[string, Record<string, unknown>]> = [
    ['plain', base],
    ['recipient_type', { ...base, recipient_type: 'individual' }],
    ['biz_opaque_callback_data', { ...base, biz_opaque_callback_data: 'x'.repeat(512) }],
    ['biz_opaque_callback_data too long', { ...base, biz_opaque_callback_data: 'x'.repeat(513) }],
    ['recipient_type unknown', { ...base, recipient_type: 'broadcast' }],
    ['to empty', { ...base, to: '' }],
    ['to too long', { ...base, to: '1'.repeat(257) }],
    ['to a number', { ...base, to: 5511988887777 }],
    ['name with capitals', { ...base, template: { name: 'Order', language: { code: 'en' } } }],
    ['name too long', { ...base, template: { name: 'a'.repeat(513), language: { code: 'en' } } }],
    ['language code too short', { ...base, template: { name: 'a', language: { code: 'e' } } }],
    ['language code too long', { ...base, template: { name: 'a', language: { code: 'e'.repeat(16) } } }],
    ['language policy', { ...base, template: { name: 'a', language: { code: 'en', policy: 'deterministic' } } }],
    ['language policy wrong', { ...base, template: { name: 'a', language: { code: 'en', policy: 'fallback' } } }],
    ['language missing', { ...base, template: { name: 'a' } }],
    ['template an array', { ...base, template: [] }],
    ['components', { ...base, template: { name: 'a', language: { code: 'en' }, components: [{ type: 'body', parameters: [{ type: 'text' }] }] } }],
    ['context', { ...base, context: { message_id: 'wamid.X' } }],
    ['recipient as well', { ...base, recipient: 'BR.1' }],
    ['messaging_product wrong', { ...base, messaging_product: 'sms' }],
    ['unknown key', { ...base, extra: 1 }]
  ]
  for (const [name, body] of variants) {
    const r = validateSendBody(body)
    const s = SendMessageBodySchema.safeParse(body)
    t.equal(r.ok, s.success, name)
    if (r.ok && s.success && s.data.type === 'template') {
      t.same(r.value, { to: s.data.to, bsuid: false, type: 'template', templateName: s.data.template.name, ...(s.data.biz_opaque_callback_data !== undefined ? { bizOpaqueCallbackData: s.data.biz_opaque_callback_data } : {}) }, `${name}: value`)
    }
  }
  t.equal(code({ ...base, template: { name: 'Order', language: { code: 'en' } } }), 131009, 'refusals still come from the schema')
  t.equal(code({ ...base, template: { name: 'a' } }), 131008)
  t.equal(code({ ...base, to: '' }), 100)
})
