/**
 * Request bodies of the Cloud API that we send (facts file §5.4, §6), as zod schemas following
 * Meta's documented limits, and the responses we read back. The outbound-sender validates its
 * API with these; the simulator validates requests like Meta with them.
 *
 * Objects are loose (unknown keys pass through to Meta, which has the last word); the limits
 * below are the ones Meta documents, marked [I] where we infer them.
 */
import { z } from 'zod'
import { openEnum } from './webhook-schemas.ts'

const Id = z.string().min(1)
const HttpUrl = z.string().max(2048).refine((s) => /^https?:\/\/[^\s]+$/i.test(s), { error: 'must be an http(s) URL' })

/** Media by uploaded `id` or by `link` — exactly one of them. */
function mediaObject<S extends z.core.$ZodLooseShape> (extra: S) {
  return z.looseObject({ id: Id.optional(), link: HttpUrl.optional(), ...extra }).refine(
    (m) => (m.id !== undefined) !== (m.link !== undefined),
    { error: 'media needs exactly one of id or link' }
  )
}

/** Captions: at most 1024 characters (image, video, document). */
const Caption = z.string().max(1024)

export const SendImageSchema = mediaObject({ caption: Caption.optional() })
export const SendVideoSchema = mediaObject({ caption: Caption.optional() })
export const SendAudioSchema = mediaObject({})
export const SendDocumentSchema = mediaObject({ caption: Caption.optional(), filename: z.string().min(1).max(240).optional() })
export const SendStickerSchema = mediaObject({})

export const SendTextSchema = z.looseObject({
  body: z.string().min(1).max(4096),
  preview_url: z.boolean().optional()
})

export const SendLocationSchema = z.looseObject({
  latitude: z.number().min(-90).max(90),
  longitude: z.number().min(-180).max(180),
  name: z.string().max(1000).optional(),
  address: z.string().max(1000).optional()
})

/** A shared contact card; Meta requires `name.formatted_name`. */
export const SendContactSchema = z.looseObject({
  name: z.looseObject({
    formatted_name: z.string().min(1),
    first_name: z.string().optional(),
    last_name: z.string().optional(),
    middle_name: z.string().optional(),
    suffix: z.string().optional(),
    prefix: z.string().optional()
  }),
  addresses: z.array(z.looseObject({})).optional(),
  birthday: z.string().regex(/^\d{4}-\d{2}-\d{2}$/).optional(),
  emails: z.array(z.looseObject({ email: z.string().optional(), type: z.string().optional() })).optional(),
  org: z.looseObject({}).optional(),
  phones: z.array(z.looseObject({ phone: z.string().optional(), wa_id: z.string().optional(), type: z.string().optional() })).optional(),
  urls: z.array(z.looseObject({ url: z.string().optional(), type: z.string().optional() })).optional()
})

/** A reaction; an empty `emoji` removes ours. Only a `sent` status comes back. */
export const SendReactionSchema = z.looseObject({
  message_id: Id,
  emoji: z.string().max(32).refine(
    (e) => e === '' || /^(?:\p{Extended_Pictographic}|\p{Regional_Indicator}|\p{Emoji_Presentation}|\p{Emoji_Modifier}|\p{Emoji_Component}|\u200d|\ufe0f)+$/u.test(e),
    { error: 'emoji must be an emoji or empty (to remove the reaction)' }
  )
})

// ---- interactive

const InteractiveBody = (max: number) => z.looseObject({ text: z.string().min(1).max(max) })
const Footer = z.looseObject({ text: z.string().min(1).max(60) })
const TextHeader = z.looseObject({ type: z.literal('text'), text: z.string().min(1).max(60) })
const MediaHeader = z.discriminatedUnion('type', [
  TextHeader,
  z.looseObject({ type: z.literal('image'), image: SendImageSchema }),
  z.looseObject({ type: z.literal('video'), video: SendVideoSchema }),
  z.looseObject({ type: z.literal('document'), document: SendDocumentSchema })
])

function unique (values: string[]): boolean {
  return new Set(values).size === values.length
}

/** Reply buttons: 1–3 buttons, ids ≤ 256 chars, titles ≤ 20 chars, both unique; body ≤ 1024. */
export const InteractiveButtonSchema = z.looseObject({
  type: z.literal('button'),
  header: MediaHeader.optional(),
  body: InteractiveBody(1024),
  footer: Footer.optional(),
  action: z.looseObject({
    buttons: z.array(z.looseObject({
      type: z.literal('reply'),
      reply: z.looseObject({ id: z.string().min(1).max(256), title: z.string().min(1).max(20) })
    })).min(1).max(3)
  }).refine((a) => unique(a.buttons.map((b) => b.reply.id)) && unique(a.buttons.map((b) => b.reply.title)), {
    error: 'button ids and titles must be unique'
  })
})

/**
 * List: `button` ≤ 20 chars, 1–10 sections, at most 10 rows in total [I: the row cap], row id ≤ 200,
 * title ≤ 24, description ≤ 72, row ids unique; a section title (≤ 24) is required when there
 * is more than one section. Body ≤ 4096, header text only.
 */
export const InteractiveListSchema = z.looseObject({
  type: z.literal('list'),
  header: TextHeader.optional(),
  body: InteractiveBody(4096),
  footer: Footer.optional(),
  action: z.looseObject({
    button: z.string().min(1).max(20),
    sections: z.array(z.looseObject({
      title: z.string().min(1).max(24).optional(),
      rows: z.array(z.looseObject({
        id: z.string().min(1).max(200),
        title: z.string().min(1).max(24),
        description: z.string().max(72).optional()
      })).min(1).max(10)
    })).min(1).max(10)
  }).superRefine((a, ctx) => {
    const rows = a.sections.flatMap((s) => s.rows)
    if (rows.length > 10) ctx.addIssue({ code: 'custom', message: 'a list holds at most 10 rows in total', path: ['sections'] })
    if (!unique(rows.map((r) => r.id))) ctx.addIssue({ code: 'custom', message: 'row ids must be unique', path: ['sections'] })
    if (a.sections.length > 1 && a.sections.some((s) => s.title === undefined)) ctx.addIssue({ code: 'custom', message: 'every section needs a title when there are several', path: ['sections'] })
  })
})

/** Call-to-action URL button. */
export const InteractiveCtaUrlSchema = z.looseObject({
  type: z.literal('cta_url'),
  header: MediaHeader.optional(),
  body: InteractiveBody(1024),
  footer: Footer.optional(),
  action: z.looseObject({
    name: z.literal('cta_url'),
    parameters: z.looseObject({ display_text: z.string().min(1).max(20), url: HttpUrl })
  })
})

/** WhatsApp Flow message (parameters passed through; Meta validates the flow). */
export const InteractiveFlowSchema = z.looseObject({
  type: z.literal('flow'),
  header: MediaHeader.optional(),
  body: InteractiveBody(1024),
  footer: Footer.optional(),
  action: z.looseObject({ name: z.literal('flow'), parameters: z.looseObject({}) })
})

export const SendInteractiveSchema = z.discriminatedUnion('type', [
  InteractiveButtonSchema, InteractiveListSchema, InteractiveCtaUrlSchema, InteractiveFlowSchema
])

// ---- template

/** One template parameter. Named parameters carry `parameter_name`; positional ones do not. */
export const TemplateParameterSchema = z.looseObject({
  type: openEnum(['text', 'currency', 'date_time', 'image', 'video', 'document', 'payload', 'coupon_code', 'action', 'location']),
  parameter_name: z.string().regex(/^[a-z0-9_]{1,255}$/).optional(),
  text: z.string().optional(),
  payload: z.string().optional(),
  coupon_code: z.string().optional(),
  image: SendImageSchema.optional(),
  video: SendVideoSchema.optional(),
  document: SendDocumentSchema.optional(),
  currency: z.looseObject({ fallback_value: z.string(), code: z.string().length(3), amount_1000: z.number().int() }).optional(),
  date_time: z.looseObject({ fallback_value: z.string() }).optional(),
  location: SendLocationSchema.optional()
}).superRefine((p, ctx) => {
  // The parameter's value lives under the key named by its type.
  const needs = ['text', 'payload', 'coupon_code', 'image', 'video', 'document', 'currency', 'date_time', 'location'] as const
  for (const k of needs) {
    if (p.type === k && p[k] === undefined) ctx.addIssue({ code: 'custom', message: `parameter of type ${k} needs ${k}`, path: [k] })
  }
})

/** One template component: `header`, `body`, `button` (with `sub_type` and `index`), or others passed through. */
export const TemplateComponentSchema = z.looseObject({
  type: openEnum(['header', 'body', 'footer', 'button', 'carousel', 'limited_time_offer']),
  sub_type: openEnum(['quick_reply', 'url', 'copy_code', 'flow', 'catalog', 'mpm', 'voice_call', 'order_details']).optional(),
  index: z.union([z.string().regex(/^\d$/), z.number().int().min(0).max(9)]).optional(),
  parameters: z.array(TemplateParameterSchema).optional()
}).superRefine((c, ctx) => {
  if (c.type === 'button' && (c.sub_type === undefined || c.index === undefined)) {
    ctx.addIssue({ code: 'custom', message: 'button components need sub_type and index', path: ['sub_type'] })
  }
})

/** A template message: name (lowercase letters, digits, `_`, ≤ 512), language code, components. */
export const SendTemplateSchema = z.looseObject({
  name: z.string().regex(/^[a-z0-9_]{1,512}$/, { error: 'template name: 1–512 of a-z, 0-9, _' }),
  language: z.looseObject({ code: z.string().min(2).max(15), policy: z.literal('deterministic').optional() }),
  components: z.array(TemplateComponentSchema).optional()
})

// ---- the message body

/** Types a send request can carry (and their content key). */
export const SEND_MESSAGE_TYPES = ['text', 'image', 'video', 'audio', 'document', 'sticker', 'location', 'contacts', 'interactive', 'reaction', 'template'] as const
export type SendMessageType = typeof SEND_MESSAGE_TYPES[number]

function commonFields<M extends z.ZodType> (messagingProduct: M) {
  return {
    messaging_product: messagingProduct,
    recipient_type: z.enum(['individual', 'group']).optional(),
    /** Phone number (E.164, with `+` recommended), BSUID or group id. */
    to: z.string().min(1).max(256).optional(),
    /** Business-scoped user id (or parent BSUID) when there is no phone number; `to` wins when both are set. */
    recipient: z.string().min(1).max(256).optional(),
    /** Quote a message (not with reactions or templates). */
    context: z.looseObject({ message_id: Id }).optional(),
    /** Echoed back in status webhooks; ≤ 512 characters [I]. */
    biz_opaque_callback_data: z.string().max(512).optional()
  }
}

function sendBody<M extends z.ZodType> (messagingProduct: M) {
  const c = commonFields(messagingProduct)
  return z.discriminatedUnion('type', [
    z.looseObject({ ...c, type: z.literal('text'), text: SendTextSchema }),
    z.looseObject({ ...c, type: z.literal('image'), image: SendImageSchema }),
    z.looseObject({ ...c, type: z.literal('video'), video: SendVideoSchema }),
    z.looseObject({ ...c, type: z.literal('audio'), audio: SendAudioSchema }),
    z.looseObject({ ...c, type: z.literal('document'), document: SendDocumentSchema }),
    z.looseObject({ ...c, type: z.literal('sticker'), sticker: SendStickerSchema }),
    z.looseObject({ ...c, type: z.literal('location'), location: SendLocationSchema }),
    z.looseObject({ ...c, type: z.literal('contacts'), contacts: z.array(SendContactSchema).min(1) }),
    z.looseObject({ ...c, type: z.literal('interactive'), interactive: SendInteractiveSchema }),
    z.looseObject({ ...c, type: z.literal('reaction'), reaction: SendReactionSchema }),
    z.looseObject({ ...c, type: z.literal('template'), template: SendTemplateSchema })
  ]).superRefine((m, ctx) => {
    if (m.to === undefined && m.recipient === undefined) ctx.addIssue({ code: 'custom', message: 'needs to (phone number) or recipient (BSUID)', path: ['to'] })
    if (m.context !== undefined && (m.type === 'reaction' || m.type === 'template')) {
      ctx.addIssue({ code: 'custom', message: `context (quoted reply) is not allowed with ${m.type}`, path: ['context'] })
    }
  })
}

/** The body of `POST /{phone-number-id}/messages` exactly as Meta takes it (`messaging_product` required). */
export const SendMessageBodySchema = sendBody(z.literal('whatsapp'))
export type SendMessageBody = z.infer<typeof SendMessageBodySchema>
export type SendMessageBodyInput = z.input<typeof SendMessageBodySchema>

/** The same, with `messaging_product` optional (defaults to `whatsapp`): for our own API and the client. */
export const SendMessageInputSchema = sendBody(z.literal('whatsapp').default('whatsapp'))
export type SendMessageInput = z.input<typeof SendMessageInputSchema>

/** `POST /{phone-number-id}/messages` with `status: read` (optionally showing a typing indicator). */
export const MarkAsReadBodySchema = z.looseObject({
  messaging_product: z.literal('whatsapp'),
  status: z.literal('read'),
  message_id: Id,
  typing_indicator: z.looseObject({ type: z.literal('text') }).optional()
})
export type MarkAsReadBody = z.infer<typeof MarkAsReadBodySchema>

export const SYNC_TYPES = ['smb_app_state_sync', 'history'] as const
export type SyncType = typeof SYNC_TYPES[number]
/** `POST /{phone-number-id}/smb_app_data`: start the one-time contacts or history sync (coexistence). */
export const SmbAppDataBodySchema = z.looseObject({
  messaging_product: z.literal('whatsapp'),
  sync_type: z.enum(SYNC_TYPES)
})
export type SmbAppDataBody = z.infer<typeof SmbAppDataBodySchema>

// ---- responses

/** Response to a send: accepted, not delivered. `wa_id` is empty/absent for BSUID sends, `user_id` then set. */
export const SendMessageResponseSchema = z.looseObject({
  messaging_product: z.literal('whatsapp'),
  contacts: z.array(z.looseObject({ input: z.string(), wa_id: z.string().optional(), user_id: z.string().optional() })).optional(),
  messages: z.array(z.looseObject({
    id: Id,
    message_status: openEnum(['accepted', 'held_for_quality_assessment', 'paused']).optional()
  })).min(1)
})
export type SendMessageResponse = z.infer<typeof SendMessageResponseSchema>

export const SuccessResponseSchema = z.looseObject({ success: z.boolean() })
export type SuccessResponse = z.infer<typeof SuccessResponseSchema>

/** Response to `smb_app_data`: only `messaging_product` and `request_id` are documented. */
export const SmbAppDataResponseSchema = z.looseObject({
  messaging_product: z.literal('whatsapp').optional(),
  request_id: Id
})
export type SmbAppDataResponse = z.infer<typeof SmbAppDataResponseSchema>

/** `GET /{media-id}`: a download URL valid for 5 minutes. */
export const MediaUrlResponseSchema = z.looseObject({
  messaging_product: z.literal('whatsapp').optional(),
  url: z.string().min(1),
  mime_type: z.string(),
  sha256: z.string().optional(),
  file_size: z.union([z.number(), z.string()]).optional(),
  id: Id
})
export type MediaUrlResponse = z.infer<typeof MediaUrlResponseSchema>

/** `GET /{phone-number-id}?fields=…`: whatever fields were asked for, plus `id`. */
export const PhoneNumberResponseSchema = z.looseObject({
  id: Id,
  display_phone_number: z.string().optional(),
  verified_name: z.string().optional(),
  quality_rating: z.string().optional(),
  platform_type: z.string().optional(),
  is_on_biz_app: z.boolean().optional(),
  code_verification_status: z.string().optional(),
  name_status: z.string().optional(),
  throughput: z.looseObject({ level: z.string().optional() }).optional(),
  whatsapp_business_manager_messaging_limit: z.string().optional()
})
export type PhoneNumberResponse = z.infer<typeof PhoneNumberResponseSchema>

/** `pricing_analytics` granularity. */
export const PRICING_ANALYTICS_GRANULARITIES = ['HALF_HOUR', 'DAILY', 'MONTHLY'] as const
/** `pricing_analytics` breakdowns. */
export const PRICING_ANALYTICS_DIMENSIONS = ['COUNTRY', 'PHONE', 'PRICING_CATEGORY', 'PRICING_TYPE', 'TIER'] as const

/** Query of `GET /{waba-id}?fields=pricing_analytics…` (Meta's analytics page, "Pricing analytics"). */
export const PricingAnalyticsQuerySchema = z.strictObject({
  /** Unix seconds, inclusive. */
  start: z.number().int().nonnegative(),
  /** Unix seconds. */
  end: z.number().int().positive(),
  granularity: z.enum(PRICING_ANALYTICS_GRANULARITIES),
  dimensions: z.array(z.enum(PRICING_ANALYTICS_DIMENSIONS)).optional(),
  /** ISO 3166 alpha-2. */
  countryCodes: z.array(z.string().regex(/^[A-Z]{2}$/)).optional(),
  /** Business display numbers, digits only. */
  phoneNumbers: z.array(z.string().regex(/^\d{5,20}$/)).optional(),
  metricTypes: z.array(z.enum(['COST', 'VOLUME'])).optional(),
  pricingTypes: z.array(z.enum(['REGULAR', 'FREE_CUSTOMER_SERVICE', 'FREE_ENTRY_POINT'])).optional(),
  pricingCategories: z.array(z.enum(['MARKETING', 'MARKETING_LITE', 'UTILITY', 'AUTHENTICATION', 'AUTHENTICATION_INTERNATIONAL', 'SERVICE', 'REFERRAL_CONVERSION'])).optional()
}).refine((q) => q.end > q.start, { error: 'end must be after start', path: ['end'] })
export type PricingAnalyticsQuery = z.input<typeof PricingAnalyticsQuerySchema>

/**
 * One `pricing_analytics` data point. `cost` is in the WABA's currency and approximate (Meta says
 * so); `tier` is `"<lower>:<upper|MAX>"`, absent for free messages; breakdown fields appear only
 * when asked for in `dimensions`.
 */
export const PricingAnalyticsPointSchema = z.looseObject({
  start: z.number(),
  end: z.number(),
  country: z.string().optional(),
  phone_number: z.string().optional(),
  tier: z.string().optional(),
  pricing_type: z.string().optional(),
  pricing_category: z.string().optional(),
  volume: z.number().optional(),
  cost: z.number().optional()
})
export type PricingAnalyticsPoint = z.infer<typeof PricingAnalyticsPointSchema>

/** Answer of `GET /{waba-id}?fields=pricing_analytics…`; no `pricing_analytics` key when there is no data. */
export const PricingAnalyticsResponseSchema = z.looseObject({
  id: z.string().optional(),
  pricing_analytics: z.looseObject({
    data: z.array(z.looseObject({ data_points: z.array(PricingAnalyticsPointSchema).default([]) })).default([])
  }).optional()
})
export type PricingAnalyticsResponse = z.infer<typeof PricingAnalyticsResponseSchema>
