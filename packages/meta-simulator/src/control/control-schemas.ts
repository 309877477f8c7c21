/**
 * Bodies of the control API (`/_sim/...`) and of the in-process `control` object, as zod schemas;
 * the TypeScript types are inferred from them (`…Input` = what callers pass, defaults optional).
 */
import { z } from 'zod'
import { ACCOUNT_EVENTS, DISCONNECTION_REASONS, INBOUND_TYPES } from '../webhooks/builders.ts'

const digits = z.string().regex(/^\d{1,20}$/, 'digits only')
const epochMs = z.union([z.number().nonnegative(), z.iso.datetime({ offset: true }).transform((s) => Date.parse(s))])

const PricingCategorySchema = z.enum(['marketing', 'utility', 'authentication', 'authentication_international', 'marketing_lite', 'service', 'referral_conversion'])

export const HistoryScenarioSchema = z.object({
  messages: z.number().int().min(0).max(1_000_000).default(200),
  threads: z.number().int().min(1).default(20),
  days: z.number().int().min(1).max(180).default(180),
  declined: z.boolean().default(false),
  chunkSize: z.number().int().min(1).default(100),
  mediaRatio: z.number().min(0).max(1).default(0.1),
  phaseWeights: z.tuple([z.number().min(0), z.number().min(0), z.number().min(0)]).default([0.05, 0.55, 0.4]),
  /** Delivery order of the chunk webhooks; Meta does not deliver them in sequence. */
  order: z.enum(['shuffled', 'as-given', 'reversed']).default('shuffled'),
  /** Chunk webhooks in flight at once. */
  concurrency: z.number().int().min(1).max(64).default(4),
  /** Wait (real ms) between the last chunk and the follow-up media webhooks. */
  mediaDelayMs: z.number().int().min(0).default(0),
  seed: z.number().int().default(1)
})

export const ContactsScenarioSchema = z.object({
  count: z.number().int().min(0).max(100_000).default(20),
  chunkSize: z.number().int().min(1).default(100),
  seed: z.number().int().default(1)
})

export const PairLimitSchema = z.object({
  enabled: z.boolean().default(true),
  /** Messages one pair may send at once (Meta: up to 45). */
  burst: z.number().min(1).default(45),
  /** Sustained rate: one message per `intervalMs` (Meta: 6 s). */
  intervalMs: z.number().int().min(1).default(6000)
})

export const StatusEmissionSchema = z.object({
  /** Last status emitted for each accepted send (`none`: no status webhooks). */
  upTo: z.enum(['none', 'sent', 'delivered', 'read']).default('read'),
  sentAfterMs: z.number().int().min(0).default(0),
  deliveredAfterMs: z.number().int().min(0).default(25),
  readAfterMs: z.number().int().min(0).default(50),
  /**
   * 0: one webhook per status. Above 0: statuses of the number due within this many ms go out
   * together in one webhook's `statuses[]` (at most 1000), as Meta may batch them.
   */
  batchMs: z.number().int().min(0).max(60_000).default(0)
})

/** `POST /_sim/numbers`: creates or replaces a phone number. */
export const NumberConfigSchema = z.object({
  phoneNumberId: digits,
  wabaId: digits,
  /** Digits with country code, no `+` (as Meta's `display_phone_number` in webhooks). */
  displayPhoneNumber: z.string().regex(/^\d{6,15}$/, '6–15 digits'),
  verifiedName: z.string().min(1).default('Coexist Demo'),
  mode: z.enum(['cloud_api', 'coexistence']).default('cloud_api'),
  /** Messages per second (inbound + outbound). Default 80, or 20 for coexistence numbers. */
  mps: z.number().int().min(1).max(10_000).optional(),
  /** Onboarding time (epoch ms or ISO); default: now. Starts the 24 h smb_app_data window. */
  onboardedAt: epochMs.optional(),
  /** Bearer token(s) accepted for this number. Default `sim-token-<phoneNumberId>`. */
  accessToken: z.string().min(1).optional(),
  accessTokens: z.array(z.string().min(1)).optional(),
  pairLimit: PairLimitSchema.prefault({}),
  /** Inbound messages the simulator emits for this number count against its throughput. */
  inboundCountsTowardsThroughput: z.boolean().default(true),
  /** App echoes (smb_message_echoes) count against the throughput too. */
  echoesCountTowardsThroughput: z.boolean().default(true),
  /**
   * Customer service window rule for free-form sends: `sync` answers 131047, `async` accepts and
   * then emits a `failed` status with 131047, `off` does not check.
   */
  window: z.enum(['sync', 'async', 'off']).default('sync'),
  statuses: StatusEmissionSchema.prefault({}),
  /** Template name → pricing category; others use `defaultTemplateCategory`. */
  templates: z.record(z.string(), PricingCategorySchema).default({}),
  defaultTemplateCategory: PricingCategorySchema.default('marketing'),
  /** What the one-time syncs send after `POST /{id}/smb_app_data`. */
  sync: z.object({
    contacts: ContactsScenarioSchema.prefault({}),
    history: HistoryScenarioSchema.prefault({})
  }).prefault({})
})
export type NumberConfigInput = z.input<typeof NumberConfigSchema>
export type NumberConfig = z.output<typeof NumberConfigSchema>

const SERVER_ERROR_CODES = [131000, 2, 131016, 133004, 131057] as const

/** `POST /_sim/faults`: fault modes for one number (fields given replace the current ones). */
export const FaultsSchema = z.object({
  phoneNumberId: digits,
  /** Remove all faults of the number first. */
  clear: z.boolean().default(false),
  /** Added response time (ms) and uniform jitter on top. */
  latencyMs: z.number().int().min(0).max(120_000).optional(),
  jitterMs: z.number().int().min(0).max(120_000).optional(),
  /** The next `count` requests answer a server error with this code (HTTP status from the table). */
  failNext: z.object({ count: z.number().int().min(0), code: z.union(SERVER_ERROR_CODES.map((c) => z.literal(c))).default(131000) }).optional(),
  /** The next N sends answer 130429 whatever the rate. */
  throttleNext: z.number().int().min(0).optional(),
  /** While true every send answers 130429. */
  throttle: z.boolean().optional(),
  /** The next N requests get their connection destroyed without an answer. */
  resetNext: z.number().int().min(0).optional(),
  /** The number's tokens are expired (190) — from now, or from `tokenExpiresAt` (epoch ms). */
  tokenExpired: z.boolean().optional(),
  tokenExpiresAt: epochMs.optional()
})
export type FaultsInput = z.input<typeof FaultsSchema>

/** `POST /_sim/webhook-target`: where webhooks go, the app secret that signs them, retry policy. */
export const WebhookTargetSchema = z.object({
  url: z.url(),
  appSecret: z.string().min(1),
  appId: z.string().optional(),
  retry: z.object({
    maxAttempts: z.number().int().min(1).max(100).optional(),
    initialDelayMs: z.number().int().min(0).optional(),
    factor: z.number().min(1).optional(),
    maxDelayMs: z.number().int().min(0).optional()
  }).optional()
})
export type WebhookTargetInput = z.input<typeof WebhookTargetSchema>

/** `POST /_sim/windows`: opens (or closes) a customer service window. */
export const WindowSchema = z.object({
  phoneNumberId: digits,
  waId: z.string().min(1).transform((s) => s.replace(/\D/g, '')),
  /** When the user's last message was (epoch ms or ISO); default now. */
  at: epochMs.optional(),
  open: z.boolean().default(true)
})
export type WindowInput = z.input<typeof WindowSchema>

export const ResetSchema = z.object({
  /** Keep configured numbers (their state is still cleared). */
  keepNumbers: z.boolean().default(false),
  /** Keep the webhook target. */
  keepTarget: z.boolean().default(true)
}).prefault({})
export type ResetInput = z.input<typeof ResetSchema>

const EmitOptionsSchema = z.object({
  duplicates: z.number().int().min(0).max(10).optional(),
  delayMs: z.number().int().min(0).optional(),
  signature: z.enum(['valid', 'invalid', 'missing']).optional()
}).prefault({})

/** Generated webhooks for `POST /_sim/emit`. */
export const GenerateSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('inbound'),
    phoneNumberId: digits,
    from: z.string().min(1),
    name: z.string().optional(),
    type: z.enum(INBOUND_TYPES).default('text'),
    text: z.string().optional(),
    refId: z.string().optional(),
    count: z.number().int().min(1).max(1000).default(1)
  }),
  z.object({
    kind: z.literal('echo'),
    phoneNumberId: digits,
    to: z.string().min(1),
    text: z.string().default('Sent from the WhatsApp Business app')
  }),
  z.object({
    kind: z.literal('contact'),
    phoneNumberId: digits,
    phone: z.string().min(1),
    action: z.enum(['add', 'remove']).default('add'),
    fullName: z.string().optional()
  }),
  z.object({
    kind: z.literal('status'),
    phoneNumberId: digits,
    wamid: z.string().min(1),
    status: z.enum(['sent', 'delivered', 'read', 'played', 'failed']),
    recipientId: z.string().min(1),
    errorCode: z.number().int().optional()
  }),
  z.object({
    kind: z.literal('account_update'),
    wabaId: digits,
    event: z.enum(ACCOUNT_EVENTS),
    partnerBusinessId: digits.optional(),
    phoneNumber: z.string().optional(),
    reason: z.union([z.enum(DISCONNECTION_REASONS), z.string().min(1)]).optional(),
    initiatedBy: z.enum(['USER', 'SYSTEM']).default('SYSTEM')
  }),
  z.object({
    kind: z.literal('error'),
    phoneNumberId: digits,
    code: z.number().int()
  })
])
export type GenerateInput = z.input<typeof GenerateSchema>

/** `POST /_sim/emit`: a given webhook (`body` object or exact `raw` text) or a generated one. */
export const EmitSchema = z.object({
  body: z.record(z.string(), z.unknown()).optional(),
  raw: z.string().optional(),
  generate: GenerateSchema.optional(),
  options: EmitOptionsSchema
}).refine((e) => [e.body, e.raw, e.generate].filter((x) => x !== undefined).length === 1, { message: 'give exactly one of body, raw, generate' })
export type EmitInput = z.input<typeof EmitSchema>
