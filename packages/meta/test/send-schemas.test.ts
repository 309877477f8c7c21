import t from 'tap'
import { MarkAsReadBodySchema, SendMessageBodySchema, SendMessageInputSchema, SendMessageResponseSchema, SmbAppDataBodySchema } from '../src/index.ts'

const base = { messaging_product: 'whatsapp', to: '+5511988887777' }
const ok = (t: any, body: unknown, name: string): void => {
  const r = SendMessageBodySchema.safeParse(body)
  t.ok(r.success, `${name}${r.success ? '' : ' ' + JSON.stringify(r.error.issues)}`)
}
const bad = (t: any, body: unknown, name: string, path?: string): void => {
  const r = SendMessageBodySchema.safeParse(body)
  t.notOk(r.success, name)
  if (!r.success && path !== undefined) t.ok(r.error.issues.some((i) => i.path.join('.').startsWith(path)), `${name}: issue at ${path} (${r.error.issues.map((i) => i.path.join('.')).join(',')})`)
}

t.test('documented request shapes are accepted', async (t) => {
  ok(t, { ...base, recipient_type: 'individual', type: 'text', text: { preview_url: true, body: 'Your order shipped: https://example.com/t/123' } }, 'text')
  ok(t, { ...base, context: { message_id: 'wamid.IN_0001' }, type: 'text', text: { body: 'Yes, it is!' } }, 'reply')
  ok(t, {
    ...base,
    type: 'template',
    template: {
      name: 'order_update',
      language: { code: 'pt_BR' },
      components: [
        { type: 'header', parameters: [{ type: 'image', image: { id: '2871834006348767' } }] },
        { type: 'body', parameters: [{ type: 'text', parameter_name: 'order_id', text: 'A-123' }, { type: 'text', text: 'positional' }] },
        { type: 'button', sub_type: 'quick_reply', index: '0', parameters: [{ type: 'payload', payload: 'TRACK_A123' }] },
        { type: 'button', sub_type: 'url', index: 1, parameters: [{ type: 'text', text: 'A-123' }] }
      ]
    }
  }, 'template')
  ok(t, { ...base, type: 'template', template: { name: 'hello_world', language: { code: 'en_US' } } }, 'template without components')
  ok(t, { ...base, type: 'image', image: { id: '1013859600285441', caption: 'Front view' } }, 'image by id')
  ok(t, { ...base, type: 'image', image: { link: 'https://cdn.example.com/p/1.jpg' } }, 'image by link')
  ok(t, { ...base, type: 'document', document: { id: '1', filename: 'invoice.pdf', caption: 'Invoice' } }, 'document')
  ok(t, { ...base, type: 'audio', audio: { id: '1' } }, 'audio')
  ok(t, { ...base, type: 'video', video: { link: 'http://x.example/v.mp4' } }, 'video')
  ok(t, { ...base, type: 'sticker', sticker: { id: '1' } }, 'sticker')
  ok(t, { ...base, type: 'location', location: { latitude: -23.5, longitude: -46.6, name: 'Shop' } }, 'location')
  ok(t, { ...base, type: 'contacts', contacts: [{ name: { formatted_name: 'Ana Lima' }, phones: [{ phone: '+5511988887777' }] }] }, 'contacts')
  ok(t, {
    ...base,
    type: 'interactive',
    interactive: { type: 'button', body: { text: 'Confirm delivery for tomorrow 9am?' }, action: { buttons: [{ type: 'reply', reply: { id: 'confirm-yes', title: 'Yes' } }, { type: 'reply', reply: { id: 'confirm-no', title: 'Reschedule' } }] } }
  }, 'buttons')
  ok(t, {
    ...base,
    type: 'interactive',
    interactive: { type: 'list', header: { type: 'text', text: 'Shipping' }, body: { text: 'Pick an option' }, action: { button: 'Options', sections: [{ title: 'Speed', rows: [{ id: 'std', title: 'Standard', description: '3-5 days' }, { id: 'exp', title: 'Express' }] }] } }
  }, 'list')
  ok(t, { ...base, type: 'interactive', interactive: { type: 'cta_url', body: { text: 'See it' }, action: { name: 'cta_url', parameters: { display_text: 'Open', url: 'https://x.example' } } } }, 'cta_url')
  ok(t, { ...base, recipient_type: 'individual', type: 'reaction', reaction: { message_id: 'wamid.IN_0001', emoji: '\u{1F600}' } }, 'reaction')
  ok(t, { ...base, type: 'reaction', reaction: { message_id: 'wamid.IN_0001', emoji: '' } }, 'reaction removal')
  ok(t, { ...base, type: 'reaction', reaction: { message_id: 'w', emoji: '👍🏽' } }, 'skin tone')
  ok(t, { ...base, type: 'reaction', reaction: { message_id: 'w', emoji: '🇧🇷' } }, 'flag')
  ok(t, { ...base, type: 'reaction', reaction: { message_id: 'w', emoji: '❤️' } }, 'heart with VS16')
  ok(t, { messaging_product: 'whatsapp', recipient: 'BR.1349120865530274191800', type: 'text', text: { body: 'hi' } }, 'BSUID recipient')
  ok(t, { ...base, type: 'text', text: { body: 'x' }, biz_opaque_callback_data: 'order-1', future_field: 1 }, 'unknown keys pass')
})

t.test('Meta rules are enforced', async (t) => {
  bad(t, { ...base, type: 'text', text: { body: 'x'.repeat(4097) } }, 'text over 4096', 'text.body')
  bad(t, { ...base, type: 'text', text: { body: '' } }, 'empty text', 'text.body')
  bad(t, { type: 'text', text: { body: 'x' }, to: '1' }, 'missing messaging_product', 'messaging_product')
  bad(t, { messaging_product: 'whatsapp', type: 'text', text: { body: 'x' } }, 'no recipient', 'to')
  bad(t, { ...base, type: 'image', image: { caption: 'x' } }, 'media without id or link', 'image')
  bad(t, { ...base, type: 'image', image: { id: '1', link: 'https://x.example/a.jpg' } }, 'media with both', 'image')
  bad(t, { ...base, type: 'image', image: { link: 'ftp://x/a.jpg' } }, 'non-http link', 'image.link')
  bad(t, { ...base, type: 'image', image: { id: '1', caption: 'c'.repeat(1025) } }, 'caption over 1024', 'image.caption')
  bad(t, { ...base, type: 'location', location: { latitude: 91, longitude: 0 } }, 'latitude range', 'location.latitude')
  bad(t, { ...base, type: 'location', location: { latitude: 0, longitude: -181 } }, 'longitude range', 'location.longitude')
  const btn = (n: number, title = 'T') => Array.from({ length: n }, (_, i) => ({ type: 'reply', reply: { id: `b${i}`, title: `${title}${i}` } }))
  bad(t, { ...base, type: 'interactive', interactive: { type: 'button', body: { text: 'x' }, action: { buttons: btn(4) } } }, '4 reply buttons', 'interactive.action.buttons')
  bad(t, { ...base, type: 'interactive', interactive: { type: 'button', body: { text: 'x' }, action: { buttons: btn(1, 'x'.repeat(20)) } } }, 'button title over 20', 'interactive.action.buttons.0.reply.title')
  bad(t, { ...base, type: 'interactive', interactive: { type: 'button', body: { text: 'x' }, action: { buttons: [{ type: 'reply', reply: { id: 'a', title: 'A' } }, { type: 'reply', reply: { id: 'a', title: 'B' } }] } } }, 'duplicate button ids')
  const rows = (n: number) => Array.from({ length: n }, (_, i) => ({ id: `r${i}`, title: `Row ${i}` }))
  bad(t, { ...base, type: 'interactive', interactive: { type: 'list', body: { text: 'x' }, action: { button: 'b', sections: [{ rows: rows(11) }] } } }, '11 rows in a section')
  bad(t, { ...base, type: 'interactive', interactive: { type: 'list', body: { text: 'x' }, action: { button: 'b', sections: [{ title: 'a', rows: rows(6) }, { title: 'b', rows: rows(5).map((r) => ({ ...r, id: r.id + 'b' })) }] } } }, '11 rows in total')
  bad(t, { ...base, type: 'interactive', interactive: { type: 'list', body: { text: 'x' }, action: { button: 'b', sections: Array.from({ length: 11 }, (_, i) => ({ title: `s${i}`, rows: [{ id: `r${i}`, title: 't' }] })) } } }, '11 sections')
  bad(t, { ...base, type: 'interactive', interactive: { type: 'list', body: { text: 'x' }, action: { button: 'b', sections: [{ rows: [{ id: 'a', title: 'x'.repeat(25) }] }] } } }, 'row title over 24')
  bad(t, { ...base, type: 'interactive', interactive: { type: 'list', body: { text: 'x' }, action: { button: 'b', sections: [{ rows: [{ id: 'a', title: 'a' }] }, { rows: [{ id: 'b', title: 'b' }] }] } } }, 'untitled sections')
  bad(t, { ...base, type: 'interactive', interactive: { type: 'carousel_of_doom', body: { text: 'x' } } }, 'unknown interactive type')
  bad(t, { ...base, type: 'reaction', reaction: { message_id: 'w', emoji: 'hello' } }, 'reaction with text', 'reaction.emoji')
  bad(t, { ...base, type: 'reaction', context: { message_id: 'w' }, reaction: { message_id: 'w', emoji: '👍' } }, 'reaction with context', 'context')
  bad(t, { ...base, type: 'template', template: { name: 'Order Update', language: { code: 'en' } } }, 'template name charset', 'template.name')
  bad(t, { ...base, type: 'template', template: { name: 'x' } }, 'template without language', 'template.language')
  bad(t, { ...base, type: 'template', template: { name: 'x', language: { code: 'en' }, components: [{ type: 'button', parameters: [] }] } }, 'button without sub_type/index')
  bad(t, { ...base, type: 'template', template: { name: 'x', language: { code: 'en' }, components: [{ type: 'body', parameters: [{ type: 'text' }] }] } }, 'text parameter without text')
  bad(t, { ...base, type: 'template', template: { name: 'x', language: { code: 'en' }, components: [{ type: 'header', parameters: [{ type: 'image', image: {} }] }] } }, 'header media without id/link')
  bad(t, { ...base, type: 'contacts', contacts: [{ name: {} }] }, 'contact without formatted_name')
  bad(t, { ...base, type: 'contacts', contacts: [] }, 'no contacts')
  bad(t, { ...base, type: 'telepathy', telepathy: {} }, 'unknown type', 'type')
  bad(t, { ...base, type: 'text' }, 'type without its object', 'text')
  bad(t, { ...base, type: 'text', text: { body: 'x' }, biz_opaque_callback_data: 'x'.repeat(513) }, 'callback data too long')
})

t.test('input schema defaults messaging_product; other bodies and responses', async (t) => {
  const r = SendMessageInputSchema.parse({ to: '+1', type: 'text', text: { body: 'x' } })
  t.equal(r.messaging_product, 'whatsapp')
  t.ok(MarkAsReadBodySchema.safeParse({ messaging_product: 'whatsapp', status: 'read', message_id: 'wamid.X', typing_indicator: { type: 'text' } }).success)
  t.notOk(MarkAsReadBodySchema.safeParse({ messaging_product: 'whatsapp', status: 'delivered', message_id: 'w' }).success)
  t.ok(SmbAppDataBodySchema.safeParse({ messaging_product: 'whatsapp', sync_type: 'history' }).success)
  t.notOk(SmbAppDataBodySchema.safeParse({ messaging_product: 'whatsapp', sync_type: 'everything' }).success)
  t.ok(SendMessageResponseSchema.safeParse({ messaging_product: 'whatsapp', contacts: [{ input: 'BR.1', wa_id: '', user_id: 'BR.1' }], messages: [{ id: 'wamid.X' }] }).success)
  t.ok(SendMessageResponseSchema.safeParse({ messaging_product: 'whatsapp', contacts: [{ input: '+1', wa_id: '1' }], messages: [{ id: 'wamid.X', message_status: 'held_for_quality_assessment' }] }).success)
  t.notOk(SendMessageResponseSchema.safeParse({ messaging_product: 'whatsapp', messages: [] }).success)
})
