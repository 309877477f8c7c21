import t from 'tap'
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
