/** Response shapes of the query API (OpenAPI and serialization; the handlers build exactly these). */
import { z } from 'zod'

const Iso = z.string().describe('ISO 8601 timestamp')

const SyncRequestView = z.object({
  sync_type: z.enum(['smb_app_state_sync', 'history']),
  state: z.enum(['pending', 'in_flight', 'accepted', 'failed', 'expired']),
  attempts: z.number().int(),
  request_id: z.string().nullable().describe("Meta's request_id"),
  accepted_at: Iso.nullable(),
  next_attempt_at: Iso.nullable(),
  last_error_code: z.number().int().nullable(),
  last_error: z.string().nullable()
})

export const SyncView = z.object({
  onboarding_id: z.uuid(),
  generation: z.number().int().describe('1 for the first onboarding; more after re-onboarding'),
  state: z.enum(['onboarded', 'contacts_sync_requested', 'history_sync_requested', 'importing', 'complete', 'declined', 'expired', 'failed', 'refused']),
  reason: z.string().nullable(),
  phase: z.enum(['requesting_contacts', 'requesting_history', 'waiting_for_history', 'importing_history', 'done']),
  history_phase: z.number().int().nullable().describe("Meta's phase of the newest chunk: 0 = day 0–1, 1 = day 1–90, 2 = day 90–180"),
  progress_percent: z.number().int().min(0).max(100),
  counts: z.object({
    contacts: z.number().int(),
    history_messages: z.number().int(),
    history_threads: z.number().int(),
    history_chunks: z.number().int(),
    media_filled: z.number().int()
  }),
  history_error_code: z.number().int().nullable(),
  onboarded_at: Iso,
  deadline_at: Iso.describe('onboarded_at + 24 h: Meta refuses sync requests after it'),
  window_open: z.boolean(),
  completed_at: Iso.nullable(),
  requests: z.array(SyncRequestView)
})

export const NumberView = z.object({
  id: z.string(),
  tenant_id: z.uuid(),
  waba_id: z.string(),
  display_phone_number: z.string(),
  mode: z.enum(['cloud_api', 'coexistence']),
  throughput_mps: z.number().int(),
  status: z.enum(['pending', 'active', 'suspended', 'disconnected']).describe('what the sender reads: only active numbers send'),
  has_access_token: z.boolean(),
  created_at: Iso,
  lifecycle: z.object({
    state: z.enum(['connected', 'offboarded', 'disconnected']),
    last_event: z.string().nullable(),
    last_event_at: Iso.nullable(),
    reason: z.string().nullable().describe('disconnection_info.reason, e.g. PRIMARY_INACTIVITY'),
    initiated_by: z.string().nullable()
  }),
  app_activity: z.object({ last_seen_at: Iso.nullable(), days_inactive: z.number().int().nullable(), warning_level: z.string().nullable() }).nullable(),
  onboarding: SyncView.nullable()
})

export const ConversationView = z.object({
  id: z.uuid(),
  phone_number_id: z.string(),
  contact: z.object({ id: z.uuid(), wa_id: z.string().nullable(), user_id: z.string().nullable(), username: z.string().nullable(), name: z.string().nullable() }),
  last_message: z.object({ wamid: z.string().nullable(), at: Iso.nullable(), direction: z.enum(['inbound', 'outbound']).nullable(), preview: z.string().nullable() }),
  last_inbound_at: Iso.nullable().describe("the customer's last live message: the 24-hour service window"),
  service_window_open: z.boolean(),
  message_count: z.number().int(),
  owner: z.enum(['api', 'app']).describe("'app' once the owner answered from the Business App"),
  owner_changed_at: Iso.nullable()
})

export const MessageView = z.object({
  wamid: z.string(),
  direction: z.enum(['inbound', 'outbound']),
  source: z.enum(['customer', 'business_app', 'api', 'history']),
  type: z.string(),
  text: z.string().nullable(),
  content: z.unknown().describe("Meta's message object (or the send request) as received"),
  media: z.object({ id: z.string().nullable(), mime_type: z.string().nullable(), pending: z.boolean() }).nullable(),
  context_wamid: z.string().nullable(),
  referral: z.unknown(),
  from: z.string().nullable(),
  to: z.string().nullable(),
  sent_at: Iso,
  status: z.string().nullable(),
  status_at: Iso.nullable(),
  error: z.object({ code: z.number().int().nullable(), title: z.string().nullable() }).nullable(),
  request_id: z.string().nullable()
})

export const ContactView = z.object({
  id: z.uuid(),
  phone_number_id: z.string(),
  wa_id: z.string().nullable(),
  user_id: z.string().nullable(),
  username: z.string().nullable(),
  profile_name: z.string().nullable(),
  full_name: z.string().nullable(),
  first_name: z.string().nullable(),
  name: z.string().nullable(),
  in_address_book: z.boolean(),
  created_at: Iso,
  updated_at: Iso
})

/** A page of `item`s with the cursor of the next page (null on the last). */
export const page = <T extends z.ZodType>(item: T) => z.object({ data: z.array(item), next_cursor: z.string().nullable() })
