/**
 * zod schemas for the webhook fields a BSP receives (facts file §2–§4), and their types.
 *
 * Rules that hold throughout:
 * - Objects are `z.looseObject`: Meta adds fields without notice, and unknown keys are kept.
 * - Ids Meta always sends (wamid, phone_number_id, waba id…) are required, non-empty strings.
 * - User identifiers may be empty strings or missing (usernames / business-scoped user ids):
 *   `wa_id`, `from`, `to`, `recipient_id`, `threads[].id`, `phone_number` are plain strings, and
 *   `user_id`, `from_user_id`, `to_user_id`, `recipient_user_id` (and the `parent_*` variants)
 *   are optional.
 * - Enumerations that Meta extends over time (statuses, pricing categories, events…) are "open":
 *   the known values are typed, any other string is kept as is.
 * - Unix timestamps arrive as strings in most payloads and as integers in some; both are
 *   accepted and kept as sent (see {@link unixSeconds}).
 * - An inbound message of a type this file does not know (or an interactive reply of an unknown
 *   sub-type) becomes `type: 'unsupported'` with the original object under `raw`; it never fails.
 */
import { z } from 'zod'

// ---------------------------------------------------------------------------------------------
// Building blocks

/**
 * A string enum that also accepts any other string (kept as is). The type keeps the known values
 * for completion and narrowing: `'sent' | 'delivered' | (string & {})`.
 */
export function openEnum<const T extends readonly [string, ...string[]]> (_values: T): z.ZodType<T[number] | (string & {}), string> {
  return z.string() as unknown as z.ZodType<T[number] | (string & {}), string>
}

/** A non-empty id string (wamid, phone_number_id, media id…). */
const Id = z.string().min(1)
/** A user identifier that Meta may send as an empty string (username adopters). */
const MaybeEmpty = z.string()

/** Unix seconds as Meta sends them: a digit string (most payloads) or an integer (some). */
export const UnixTimestampSchema = z.union([z.string().regex(/^\d{1,12}$/), z.number().int().nonnegative()])
export type UnixTimestamp = z.infer<typeof UnixTimestampSchema>

/** Converts a webhook timestamp (string or number of Unix seconds) to a number of seconds. */
export function unixSeconds (ts: UnixTimestamp): number {
  return typeof ts === 'number' ? ts : Number(ts)
}

/** An error object inside a webhook (`value.errors[]`, `messages[].errors[]`, `statuses[].errors[]`, `history[].errors[]`). */
export const WebhookErrorSchema = z.looseObject({
  code: z.number().int(),
  title: z.string().optional(),
  message: z.string().optional(),
  error_data: z.looseObject({ details: z.string().optional() }).optional(),
  href: z.string().optional()
})
export type WebhookError = z.infer<typeof WebhookErrorSchema>

/** `value.metadata` on phone-scoped fields. */
export const PhoneMetadataSchema = z.looseObject({
  display_phone_number: z.string(),
  phone_number_id: Id
})
export type PhoneMetadata = z.infer<typeof PhoneMetadataSchema>

/** `value.contacts[]`: who the user is. `wa_id` may be empty; `user_id` is the business-scoped user id (BSUID). */
export const WebhookContactSchema = z.looseObject({
  profile: z.looseObject({
    name: z.string().optional(),
    username: z.string().optional(),
    country_code: z.string().optional()
  }).optional(),
  wa_id: MaybeEmpty.optional(),
  user_id: z.string().optional(),
  parent_user_id: z.string().optional(),
  identity_key_hash: z.string().optional()
})
export type WebhookContact = z.infer<typeof WebhookContactSchema>

// ---------------------------------------------------------------------------------------------
// Inbound message content

/** Inbound media (`image`, `video`, `audio`, `document`, `sticker`): an id, and since Nov 2025 maybe a `url`. */
const InboundMediaFields = {
  id: Id,
  mime_type: z.string().optional(),
  sha256: z.string().optional(),
  url: z.string().optional(),
  caption: z.string().optional()
}
export const InboundImageSchema = z.looseObject({ ...InboundMediaFields })
export const InboundVideoSchema = z.looseObject({ ...InboundMediaFields })
export const InboundAudioSchema = z.looseObject({ ...InboundMediaFields, voice: z.boolean().optional() })
export const InboundDocumentSchema = z.looseObject({ ...InboundMediaFields, filename: z.string().optional() })
export const InboundStickerSchema = z.looseObject({ ...InboundMediaFields, animated: z.boolean().optional() })
export type InboundMedia = z.infer<typeof InboundDocumentSchema>

export const LocationSchema = z.looseObject({
  latitude: z.number().min(-90).max(90),
  longitude: z.number().min(-180).max(180),
  name: z.string().optional(),
  address: z.string().optional(),
  url: z.string().optional()
})

/** A vCard-like shared contact (`messages[].contacts[]`). */
export const SharedContactSchema = z.looseObject({
  name: z.looseObject({
    formatted_name: z.string().optional(),
    first_name: z.string().optional(),
    last_name: z.string().optional(),
    middle_name: z.string().optional(),
    suffix: z.string().optional(),
    prefix: z.string().optional()
  }).optional(),
  addresses: z.array(z.looseObject({})).optional(),
  birthday: z.string().optional(),
  emails: z.array(z.looseObject({ email: z.string().optional(), type: z.string().optional() })).optional(),
  org: z.looseObject({ company: z.string().optional(), department: z.string().optional(), title: z.string().optional() }).optional(),
  phones: z.array(z.looseObject({ phone: z.string().optional(), wa_id: z.string().optional(), type: z.string().optional() })).optional(),
  urls: z.array(z.looseObject({ url: z.string().optional(), type: z.string().optional() })).optional()
})
export type SharedContact = z.infer<typeof SharedContactSchema>

/** `messages[].context`: a reply (`from`, `id`), a product enquiry (`referred_product`), or forwarded flags. */
export const MessageContextSchema = z.looseObject({
  from: z.string().optional(),
  id: z.string().optional(),
  forwarded: z.boolean().optional(),
  frequently_forwarded: z.boolean().optional(),
  referred_product: z.looseObject({ catalog_id: z.string(), product_retailer_id: z.string() }).optional()
})
export type MessageContext = z.infer<typeof MessageContextSchema>

/** `messages[].referral`: the Click-to-WhatsApp ad or post the user came from. */
export const ReferralSchema = z.looseObject({
  source_url: z.string().optional(),
  source_id: z.string().optional(),
  source_type: openEnum(['ad', 'post']).optional(),
  body: z.string().optional(),
  headline: z.string().optional(),
  media_type: openEnum(['image', 'video']).optional(),
  image_url: z.string().optional(),
  video_url: z.string().optional(),
  thumbnail_url: z.string().optional(),
  ctwa_clid: z.string().optional(),
  welcome_message: z.looseObject({ text: z.string().optional() }).optional()
})
export type Referral = z.infer<typeof ReferralSchema>

/** Fields every inbound message has. `from` may be empty (or absent) when only `from_user_id` identifies the user. */
const InboundBase = {
  id: Id,
  from: MaybeEmpty.optional(),
  from_user_id: z.string().optional(),
  from_parent_user_id: z.string().optional(),
  timestamp: UnixTimestampSchema,
  context: MessageContextSchema.optional(),
  referral: ReferralSchema.optional(),
  errors: z.array(WebhookErrorSchema).optional()
}

const TextMessage = z.looseObject({ ...InboundBase, type: z.literal('text'), text: z.looseObject({ body: z.string() }) })
const ImageMessage = z.looseObject({ ...InboundBase, type: z.literal('image'), image: InboundImageSchema })
const VideoMessage = z.looseObject({ ...InboundBase, type: z.literal('video'), video: InboundVideoSchema })
const AudioMessage = z.looseObject({ ...InboundBase, type: z.literal('audio'), audio: InboundAudioSchema })
const DocumentMessage = z.looseObject({ ...InboundBase, type: z.literal('document'), document: InboundDocumentSchema })
const StickerMessage = z.looseObject({ ...InboundBase, type: z.literal('sticker'), sticker: InboundStickerSchema })
const LocationMessage = z.looseObject({ ...InboundBase, type: z.literal('location'), location: LocationSchema })
const ContactsMessage = z.looseObject({ ...InboundBase, type: z.literal('contacts'), contacts: z.array(SharedContactSchema) })

export const ButtonReplySchema = z.looseObject({ id: z.string(), title: z.string() })
export const ListReplySchema = z.looseObject({ id: z.string(), title: z.string(), description: z.string().optional() })
/** WhatsApp Flows completion: `response_json` is a JSON string chosen by the flow. */
export const NfmReplySchema = z.looseObject({ response_json: z.string(), body: z.string().optional(), name: z.string().optional() })

/** The interactive reply sub-types we know; others make the message `unsupported`. */
export const INTERACTIVE_REPLY_TYPES = ['button_reply', 'list_reply', 'nfm_reply'] as const
const InteractiveReplySchema = z.discriminatedUnion('type', [
  z.looseObject({ type: z.literal('button_reply'), button_reply: ButtonReplySchema }),
  z.looseObject({ type: z.literal('list_reply'), list_reply: ListReplySchema }),
  z.looseObject({ type: z.literal('nfm_reply'), nfm_reply: NfmReplySchema })
])
const InteractiveMessage = z.looseObject({ ...InboundBase, type: z.literal('interactive'), interactive: InteractiveReplySchema })
/** Quick-reply button of a template. */
const ButtonMessage = z.looseObject({ ...InboundBase, type: z.literal('button'), button: z.looseObject({ payload: z.string().optional(), text: z.string() }) })
/** A reaction; an empty `emoji` removes the reaction. */
const ReactionMessage = z.looseObject({ ...InboundBase, type: z.literal('reaction'), reaction: z.looseObject({ message_id: Id, emoji: z.string().optional() }) })
export const OrderSchema = z.looseObject({
  catalog_id: z.string(),
  text: z.string().optional(),
  product_items: z.array(z.looseObject({
    product_retailer_id: z.string(),
    quantity: z.union([z.number(), z.string()]),
    item_price: z.union([z.number(), z.string()]),
    currency: z.string()
  }))
})
const OrderMessage = z.looseObject({ ...InboundBase, type: z.literal('order'), order: OrderSchema })
/** `user_changed_number`, `user_changed_user_id`, … . No `contacts[]` comes with it. */
export const SystemSchema = z.looseObject({
  body: z.string().optional(),
  type: openEnum(['user_changed_number', 'user_changed_user_id', 'customer_changed_number', 'customer_identity_changed']).optional(),
  wa_id: MaybeEmpty.optional(),
  user_id: z.string().optional(),
  identity: z.string().optional(),
  new_wa_id: z.string().optional(),
  customer: z.string().optional()
})
const SystemMessage = z.looseObject({ ...InboundBase, type: z.literal('system'), system: SystemSchema })
/**
 * Meta's own `unsupported` (with `errors[]` code 131051 and `unsupported.type`), and every message
 * of a type we do not know, rewritten to this shape with the original object in `raw`.
 */
const UnsupportedMessage = z.looseObject({
  ...InboundBase,
  type: z.literal('unsupported'),
  unsupported: z.looseObject({ type: z.string().optional() }).optional(),
  /** The message as Meta sent it, when we rewrote an unknown type. */
  raw: z.record(z.string(), z.unknown()).optional()
})
/** The user edited a text or a caption (coexistence): the new content is in `edit.message`. */
const EditMessage = z.looseObject({
  ...InboundBase,
  type: z.literal('edit'),
  edit: z.looseObject({
    original_message_id: Id,
    message: z.looseObject({
      type: z.string().optional(),
      text: z.looseObject({ body: z.string() }).optional(),
      caption: z.string().optional()
    }).optional()
  })
})
/** The user deleted a message (coexistence). */
const RevokeMessage = z.looseObject({ ...InboundBase, type: z.literal('revoke'), revoke: z.looseObject({ original_message_id: Id }) })

const KnownInboundMessageSchema = z.discriminatedUnion('type', [
  TextMessage, ImageMessage, VideoMessage, AudioMessage, DocumentMessage, StickerMessage, LocationMessage,
  ContactsMessage, InteractiveMessage, ButtonMessage, ReactionMessage, OrderMessage, SystemMessage,
  UnsupportedMessage, EditMessage, RevokeMessage
])

/** Inbound `messages[].type` values with a typed shape. Anything else parses as `unsupported`. */
export const INBOUND_MESSAGE_TYPES = ['text', 'image', 'video', 'audio', 'document', 'sticker', 'location', 'contacts',
  'interactive', 'button', 'reaction', 'order', 'system', 'unsupported', 'edit', 'revoke'] as const
const KNOWN_TYPES: ReadonlySet<string> = new Set(INBOUND_MESSAGE_TYPES)
const KNOWN_INTERACTIVE: ReadonlySet<string> = new Set(INTERACTIVE_REPLY_TYPES)

function isRecord (v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
}

/** Rewrites a message of an unknown type (or unknown interactive sub-type) to `unsupported`, keeping the original. */
function normaliseInbound (v: unknown): unknown {
  if (!isRecord(v) || typeof v.type !== 'string') return v
  const interactiveType = v.type === 'interactive' && isRecord(v.interactive) ? v.interactive.type : undefined
  const unknownInteractive = v.type === 'interactive' && (typeof interactiveType !== 'string' || !KNOWN_INTERACTIVE.has(interactiveType))
  if (KNOWN_TYPES.has(v.type) && !unknownInteractive) return v
  const originalType = unknownInteractive ? `interactive.${String(interactiveType)}` : v.type
  const out: Record<string, unknown> = { raw: v, unsupported: { type: originalType }, type: 'unsupported' }
  for (const k of ['id', 'from', 'from_user_id', 'from_parent_user_id', 'timestamp', 'context', 'referral', 'errors'] as const) {
    if (k in v) out[k] = v[k]
  }
  return out
}

/**
 * One inbound message (`value.messages[]` of the `messages` field). Discriminated by `type`;
 * unknown types come out as `unsupported` with `raw` set. A message must carry a sender: a
 * non-empty `from` or a `from_user_id`.
 */
export const InboundMessageSchema = z.preprocess(normaliseInbound, KnownInboundMessageSchema.refine(
  (m) => (m.from !== undefined && m.from !== '') || (m.from_user_id !== undefined && m.from_user_id !== ''),
  { error: 'message has neither a from nor a from_user_id', path: ['from'] }
))
export type InboundMessage = z.output<typeof InboundMessageSchema>
export type InboundMessageType = InboundMessage['type']
/** Narrow an inbound message by type: `InboundMessageOf<'text'>`. */
export type InboundMessageOf<T extends InboundMessageType> = Extract<InboundMessage, { type: T }>

// ---------------------------------------------------------------------------------------------
// Statuses

export const MESSAGE_STATUSES = ['sent', 'delivered', 'read', 'played', 'failed', 'deleted'] as const
export type KnownMessageStatus = typeof MESSAGE_STATUSES[number]

/** Pricing categories; both spellings of authentication-international are seen in Meta's docs. */
export const PRICING_CATEGORIES = ['marketing', 'marketing_lite', 'utility', 'authentication', 'authentication_international',
  'authentication-international', 'service', 'referral_conversion'] as const
export const PRICING_TYPES = ['regular', 'free_customer_service', 'free_entry_point'] as const

/** `statuses[].pricing`: `PMP` (per-message, since 1 Jul 2025) or legacy `CBP`. */
export const PricingSchema = z.looseObject({
  billable: z.boolean().optional(),
  pricing_model: openEnum(['PMP', 'CBP']),
  type: openEnum(PRICING_TYPES).optional(),
  category: openEnum(PRICING_CATEGORIES)
})
export type Pricing = z.infer<typeof PricingSchema>

/** `statuses[].conversation`: legacy conversation model (omitted from v24 except in free-entry-point windows). */
export const ConversationSchema = z.looseObject({
  id: z.string(),
  expiration_timestamp: UnixTimestampSchema.optional(),
  origin: z.looseObject({ type: openEnum(PRICING_CATEGORIES) }).optional()
})
export type Conversation = z.infer<typeof ConversationSchema>

/** One `value.statuses[]` item: the fate of a message we sent. `recipient_id` may be empty (BSUID sends). */
export const StatusSchema = z.looseObject({
  id: Id,
  status: openEnum(MESSAGE_STATUSES),
  timestamp: UnixTimestampSchema,
  recipient_id: MaybeEmpty.optional(),
  recipient_user_id: z.string().optional(),
  recipient_parent_user_id: z.string().optional(),
  recipient_type: z.string().optional(),
  recipient_participant_id: z.string().optional(),
  recipient_identity_key_hash: z.string().optional(),
  biz_opaque_callback_data: z.string().optional(),
  conversation: ConversationSchema.optional(),
  pricing: PricingSchema.optional(),
  errors: z.array(WebhookErrorSchema).optional()
})
export type StatusUpdate = z.infer<typeof StatusSchema>

/** Value of the `messages` field: inbound messages, statuses, or value-level errors. */
export const MessagesValueSchema = z.looseObject({
  messaging_product: z.literal('whatsapp'),
  metadata: PhoneMetadataSchema,
  contacts: z.array(WebhookContactSchema).optional(),
  messages: z.array(InboundMessageSchema).optional(),
  statuses: z.array(StatusSchema).optional(),
  errors: z.array(WebhookErrorSchema).optional()
})
export type MessagesValue = z.output<typeof MessagesValueSchema>

// ---------------------------------------------------------------------------------------------
// Coexistence: echoes, contacts sync, history

/**
 * Message content as sent from the app or imported from history: the same shapes as send
 * requests and inbound webhooks, kept loose (media may carry `id`, `link`, `url`, `caption`…).
 */
const LooseMedia = z.looseObject({
  id: z.string().optional(),
  link: z.string().optional(),
  url: z.string().optional(),
  mime_type: z.string().optional(),
  sha256: z.string().optional(),
  caption: z.string().optional(),
  filename: z.string().optional()
})
const ContentFields = {
  type: openEnum(['text', 'image', 'video', 'audio', 'document', 'sticker', 'location', 'contacts', 'interactive',
    'template', 'reaction', 'button', 'order', 'media_placeholder', 'edit', 'revoke', 'unsupported']),
  text: z.looseObject({ body: z.string() }).optional(),
  image: LooseMedia.optional(),
  video: LooseMedia.optional(),
  audio: LooseMedia.optional(),
  document: LooseMedia.optional(),
  sticker: LooseMedia.optional(),
  location: z.looseObject({ latitude: z.number().optional(), longitude: z.number().optional() }).optional(),
  contacts: z.array(SharedContactSchema).optional(),
  interactive: z.looseObject({ type: z.string().optional() }).optional(),
  template: z.looseObject({ name: z.string().optional() }).optional(),
  reaction: z.looseObject({ message_id: z.string().optional(), emoji: z.string().optional() }).optional(),
  context: MessageContextSchema.optional(),
  errors: z.array(WebhookErrorSchema).optional()
}

/** One `message_echoes[]` item: a message the business sent from the WhatsApp Business app or a companion device. */
export const EchoMessageSchema = z.looseObject({
  ...ContentFields,
  id: Id,
  from: z.string(),
  /** The user's number as the app had it; may be empty when only `to_user_id` is known. */
  to: MaybeEmpty.optional(),
  to_user_id: z.string().optional(),
  to_parent_user_id: z.string().optional(),
  timestamp: UnixTimestampSchema
})
export type EchoMessage = z.infer<typeof EchoMessageSchema>

/** Value of the `smb_message_echoes` field. The array key is `message_echoes`. */
export const EchoesValueSchema = z.looseObject({
  messaging_product: z.literal('whatsapp'),
  metadata: PhoneMetadataSchema,
  contacts: z.array(WebhookContactSchema).optional(),
  message_echoes: z.array(EchoMessageSchema)
})
export type EchoesValue = z.infer<typeof EchoesValueSchema>

/** One `state_sync[]` item: a contact added/edited (`add`) or removed (`remove`) in the app's address book. */
export const StateSyncItemSchema = z.looseObject({
  type: openEnum(['contact']),
  contact: z.looseObject({
    full_name: z.string().optional(),
    first_name: z.string().optional(),
    /** May be empty when only `user_id` is known. */
    phone_number: MaybeEmpty.optional(),
    user_id: z.string().optional(),
    username: z.string().optional(),
    country_code: z.string().optional()
  }).optional(),
  action: openEnum(['add', 'remove']),
  metadata: z.looseObject({ timestamp: UnixTimestampSchema })
})
export type StateSyncItem = z.infer<typeof StateSyncItemSchema>

/** Value of the `smb_app_state_sync` field. */
export const AppStateSyncValueSchema = z.looseObject({
  messaging_product: z.literal('whatsapp'),
  metadata: PhoneMetadataSchema,
  state_sync: z.array(StateSyncItemSchema)
})
export type AppStateSyncValue = z.infer<typeof AppStateSyncValueSchema>

export const HISTORY_STATUSES = ['DELIVERED', 'ERROR', 'PENDING', 'PLAYED', 'READ', 'SENT'] as const

/**
 * One message inside a history thread. `to` is present only on business→user messages.
 * `type: 'media_placeholder'` carries no content; the media arrives later in a separate
 * `history` webhook (top-level `messages[]` / `message_echoes[]`), matched by `id`.
 */
export const HistoryMessageSchema = z.looseObject({
  ...ContentFields,
  id: Id,
  from: MaybeEmpty,
  from_user_id: z.string().optional(),
  to: MaybeEmpty.optional(),
  to_user_id: z.string().optional(),
  /** Device timestamp. */
  timestamp: UnixTimestampSchema,
  history_context: z.looseObject({ status: openEnum(HISTORY_STATUSES) }).optional()
})
export type HistoryMessage = z.infer<typeof HistoryMessageSchema>

/** One chat thread of a history chunk; `id` is the user's number (may be empty; see `context`). */
export const HistoryThreadSchema = z.looseObject({
  id: MaybeEmpty,
  context: z.looseObject({
    wa_id: MaybeEmpty.optional(),
    user_id: z.string().optional(),
    username: z.string().optional(),
    country_code: z.string().optional()
  }).optional(),
  messages: z.array(HistoryMessageSchema)
})
export type HistoryThread = z.infer<typeof HistoryThreadSchema>

/**
 * One `history[]` item: a chunk (`metadata` + `threads`) or a refusal (`errors`, e.g. 2593109
 * "history sharing turned off"). `phase` 0 = day 0–1, 1 = day 1–90, 2 = day 90–180;
 * `chunk_order` re-sequences chunks that arrive out of order; `progress` 100 means done.
 */
export const HistoryChunkSchema = z.looseObject({
  metadata: z.looseObject({
    phase: z.number().int().min(0),
    chunk_order: z.number().int().min(0),
    progress: z.number().min(0).max(100)
  }).optional(),
  threads: z.array(HistoryThreadSchema).optional(),
  errors: z.array(WebhookErrorSchema).optional()
}).refine((h) => h.metadata !== undefined || (h.errors !== undefined && h.errors.length > 0), {
  error: 'history item has neither metadata nor errors'
})
export type HistoryChunk = z.infer<typeof HistoryChunkSchema>

/** A media message delivered after a history placeholder (user-sent, in `messages[]`). */
export const HistoryMediaMessageSchema = z.looseObject({
  ...ContentFields,
  id: Id,
  from: MaybeEmpty,
  from_user_id: z.string().optional(),
  timestamp: UnixTimestampSchema
})

/** Value of the `history` field: chunks in `history[]`, or follow-up media in `messages[]` / `message_echoes[]`. */
export const HistoryValueSchema = z.looseObject({
  messaging_product: z.literal('whatsapp'),
  metadata: PhoneMetadataSchema,
  contacts: z.array(WebhookContactSchema).optional(),
  history: z.array(HistoryChunkSchema).optional(),
  messages: z.array(HistoryMediaMessageSchema).optional(),
  message_echoes: z.array(EchoMessageSchema).optional()
})
export type HistoryValue = z.infer<typeof HistoryValueSchema>

// ---------------------------------------------------------------------------------------------
// WABA-level fields

export const ACCOUNT_UPDATE_EVENTS = ['ACCOUNT_DELETED', 'ACCOUNT_RESTRICTION', 'ACCOUNT_VIOLATION', 'AD_ACCOUNT_LINKED',
  'AUTH_INTL_PRICE_ELIGIBILITY_UPDATE', 'BUSINESS_PRIMARY_LOCATION_COUNTRY_UPDATE', 'DISABLED_UPDATE', 'MM_LITE_TERMS_SIGNED',
  'PARTNER_ADDED', 'PARTNER_APP_INSTALLED', 'PARTNER_APP_UNINSTALLED', 'PARTNER_CLIENT_CERTIFICATION_STATUS_UPDATE',
  'PARTNER_REMOVED', 'VOLUME_BASED_PRICING_TIER_UPDATE', 'ACCOUNT_OFFBOARDED', 'ACCOUNT_RECONNECTED'] as const
export const DISCONNECTION_REASONS = ['ACCOUNT_DISCONNECTED', 'BUSINESS_DOWNGRADE', 'CHANGE_NUMBER', 'COMPANION_INACTIVITY',
  'PRIMARY_INACTIVITY', 'USER_RE_REGISTERED'] as const

/** Value of the `account_update` field. On `PARTNER_*` events `entry.id` may be the partner's business; the WABA is `waba_info.waba_id`. */
export const AccountUpdateValueSchema = z.looseObject({
  event: openEnum(ACCOUNT_UPDATE_EVENTS),
  phone_number: z.string().optional(),
  country: z.string().optional(),
  waba_info: z.looseObject({
    waba_id: Id,
    owner_business_id: z.string().optional(),
    partner_app_id: z.string().optional(),
    solution_id: z.string().optional(),
    solution_partner_business_ids: z.array(z.string()).optional(),
    ad_account_linked: z.string().optional()
  }).optional(),
  /** Why a coexistence number was disconnected (`PARTNER_REMOVED`). */
  disconnection_info: z.looseObject({
    reason: openEnum(DISCONNECTION_REASONS).optional(),
    initiated_by: openEnum(['USER', 'SYSTEM']).optional()
  }).optional(),
  violation_info: z.looseObject({ violation_type: z.string().optional() }).optional(),
  ban_info: z.looseObject({ waba_ban_state: z.string().optional(), waba_ban_date: z.string().optional() }).optional(),
  restriction_info: z.array(z.looseObject({
    restriction_type: z.string().optional(),
    expiration: z.union([z.string(), z.number()]).optional()
  })).optional(),
  volume_tier_info: z.looseObject({
    tier_update_time: z.union([z.string(), z.number()]).optional(),
    pricing_category: z.string().optional(),
    tier: z.string().optional(),
    effective_month: z.string().optional(),
    region: z.string().optional()
  }).optional(),
  auth_international_rate_eligibility: z.looseObject({}).optional(),
  partner_client_certification_info: z.looseObject({ status: z.string().optional() }).optional()
})
export type AccountUpdateValue = z.infer<typeof AccountUpdateValueSchema>

export const TEMPLATE_STATUS_EVENTS = ['APPROVED', 'ARCHIVED', 'DELETED', 'DISABLED', 'FLAGGED', 'IN_APPEAL', 'LIMIT_EXCEEDED',
  'LOCKED', 'PAUSED', 'PENDING', 'REINSTATED', 'PENDING_DELETION', 'REJECTED', 'UNLOCKED'] as const

/** Value of the `message_template_status_update` field. `message_template_id` is an integer in Meta's examples. */
export const TemplateStatusValueSchema = z.looseObject({
  event: openEnum(TEMPLATE_STATUS_EVENTS),
  message_template_id: z.union([z.number().int(), z.string().min(1)]),
  message_template_name: z.string(),
  message_template_language: z.string(),
  /** Rejection reason; `null` when the template is scheduled for deletion. */
  reason: z.string().nullable().optional(),
  message_template_category: z.string().optional(),
  disable_info: z.looseObject({ disable_date: z.union([z.string(), z.number()]).optional() }).optional(),
  other_info: z.looseObject({ title: z.string().optional(), description: z.string().optional() }).optional(),
  rejection_info: z.looseObject({ reason: z.string().optional(), recommendation: z.string().optional() }).optional()
})
export type TemplateStatusValue = z.infer<typeof TemplateStatusValueSchema>

/** Value of the `phone_number_quality_update` field (messaging limit / throughput changes). No phone_number_id: route by WABA. */
export const PhoneNumberQualityValueSchema = z.looseObject({
  display_phone_number: z.string(),
  event: openEnum(['THROUGHPUT_UPGRADE', 'ONBOARDING', 'FLAGGED', 'UNFLAGGED', 'UPGRADE', 'DOWNGRADE']),
  current_limit: z.string().optional(),
  old_limit: z.string().optional(),
  max_daily_conversations_per_business: z.union([z.string(), z.number()]).optional()
})
export type PhoneNumberQualityValue = z.infer<typeof PhoneNumberQualityValueSchema>

/** Value of the `business_capability_update` field. The limit is `TIER_2K`-style or an integer (−1 = unlimited) depending on version. */
export const BusinessCapabilityValueSchema = z.looseObject({
  max_daily_conversation_per_phone: z.number().int().optional(),
  max_daily_conversations_per_business: z.union([z.string(), z.number().int()]).optional(),
  max_phone_numbers_per_business: z.number().int().optional(),
  max_phone_numbers_per_waba: z.number().int().optional()
})
export type BusinessCapabilityValue = z.infer<typeof BusinessCapabilityValueSchema>

// ---------------------------------------------------------------------------------------------
// Envelope

/** One `entry[].changes[]` item; `value` is parsed per field with {@link WEBHOOK_VALUE_SCHEMAS}. */
export const WebhookChangeSchema = z.looseObject({
  field: z.string().min(1),
  value: z.unknown()
})
export type WebhookChange = z.infer<typeof WebhookChangeSchema>

/** One `entry[]` item; `id` is normally the WABA id (partner business id on some `PARTNER_*` events). */
export const WebhookEntrySchema = z.looseObject({
  id: Id,
  time: z.number().optional(),
  changes: z.array(WebhookChangeSchema)
})
export type WebhookEntry = z.infer<typeof WebhookEntrySchema>

/** The POST body Meta sends: `{ object: 'whatsapp_business_account', entry: [...] }`. Values are left unparsed. */
export const WebhookEnvelopeSchema = z.looseObject({
  object: openEnum(['whatsapp_business_account']),
  entry: z.array(WebhookEntrySchema)
})
export type WebhookEnvelope = z.infer<typeof WebhookEnvelopeSchema>

/** Schema per webhook field this package understands. */
export const WEBHOOK_VALUE_SCHEMAS = {
  messages: MessagesValueSchema,
  smb_message_echoes: EchoesValueSchema,
  smb_app_state_sync: AppStateSyncValueSchema,
  history: HistoryValueSchema,
  account_update: AccountUpdateValueSchema,
  message_template_status_update: TemplateStatusValueSchema,
  phone_number_quality_update: PhoneNumberQualityValueSchema,
  business_capability_update: BusinessCapabilityValueSchema
} as const
export type WebhookField = keyof typeof WEBHOOK_VALUE_SCHEMAS
export const WEBHOOK_FIELDS = Object.keys(WEBHOOK_VALUE_SCHEMAS) as WebhookField[]
/** Parsed value type of a field: `WebhookValue<'history'>`. */
export type WebhookValue<F extends WebhookField> = z.output<typeof WEBHOOK_VALUE_SCHEMAS[F]>
/** Input (wire) type of a field's value, for fixtures and emitters. */
export type WebhookValueInput<F extends WebhookField> = z.input<typeof WEBHOOK_VALUE_SCHEMAS[F]>
