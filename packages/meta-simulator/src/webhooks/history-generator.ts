/**
 * Generates what a coexistence number's one-time syncs send (facts §4.2, §4.3): the contacts of
 * the Business App address book, and up to 180 days of 1:1 history split into phases (0: day 0–1,
 * 1: day 1–90, 2: day 90–180 before onboarding), each phase cut into chunks with `chunk_order`
 * and an overall `progress` that reaches 100 on the last chunk. Media items are
 * `media_placeholder`s; the ones of the last 14 days get their media in a later webhook.
 * Everything is seeded, so a scenario always produces the same bodies.
 */
import { seededRandom } from '../random.ts'
import {
  buildHistoryChunkWebhook, buildHistoryMediaWebhook, buildStateSyncWebhook, unixSeconds,
  type ContactChange, type HistoryStatus, type HistoryThread, type MediaRef, type MediaType, type NumberRef, type WebhookEnvelope
} from './builders.ts'

const DAY = 86_400_000

/** A generated customer of a business number. */
export interface SimUser {
  waId: string
  name: string
}

const FIRST = ['Ana', 'Bruno', 'Carla', 'Diego', 'Elisa', 'Fábio', 'Gabriela', 'Heitor', 'Íris', 'João', 'Karina', 'Lucas', 'Marina', 'Nicolás', 'Olívia', 'Paulo', 'Renata', 'Sérgio', 'Tânia', 'Vítor']
const LAST = ['Lima', 'Souza', 'Oliveira', 'Santos', 'Pereira', 'Costa', 'Almeida', 'Gonçalves', 'Araújo', 'Müller']

/**
 * The first `count` customers of a number: stable per (number, index), so contacts, history
 * threads and live traffic of one scenario talk about the same people.
 */
export function generateUsers (n: NumberRef, count: number, seed = 1): SimUser[] {
  const rnd = seededRandom(seed * 7919 + Number(n.phoneNumberId.slice(-6)))
  const base = 970_000_000 + (Number(n.phoneNumberId.slice(-4)) % 1000) * 10_000
  return Array.from({ length: count }, (_, i) => ({
    waId: `5511${base + i}`,
    name: `${FIRST[Math.floor(rnd() * FIRST.length)] as string} ${LAST[Math.floor(rnd() * LAST.length)] as string}`
  }))
}

export interface ContactsScenario {
  count: number
  chunkSize: number
  seed: number
}

/** `smb_app_state_sync` webhooks for the initial contacts sync. */
export function generateContactsSync (n: NumberRef, s: ContactsScenario, at: number): WebhookEnvelope[] {
  const users = generateUsers(n, s.count, s.seed)
  const out: WebhookEnvelope[] = []
  for (let i = 0; i < users.length; i += s.chunkSize) {
    const changes: ContactChange[] = users.slice(i, i + s.chunkSize).map((u) => ({
      phoneNumber: u.waId, action: 'add', fullName: u.name, firstName: u.name.split(' ')[0] as string, at
    }))
    out.push(buildStateSyncWebhook(n, changes))
  }
  return out
}

export interface HistoryScenario {
  /** Total messages across all threads. */
  messages: number
  threads: number
  /** How far back the history goes (Meta: 180 days). */
  days: number
  /** The business declined sharing: one webhook with error 2593109 instead. */
  declined: boolean
  /** Messages per chunk webhook. */
  chunkSize: number
  /** Share of items that are media placeholders. */
  mediaRatio: number
  /** Relative share of messages in phases 0, 1, 2. */
  phaseWeights: readonly [number, number, number]
  seed: number
}

/** A generated history item (for assertions and the follow-up media). */
export interface HistoryItem {
  id: string
  threadId: string
  fromBusiness: boolean
  /** Device time, epoch ms. */
  at: number
  phase: 0 | 1 | 2
  mediaType?: MediaType
}

export interface GeneratedHistory {
  /** Chunk webhooks in canonical order (phase 0 → 2, chunk_order ascending). */
  chunks: WebhookEnvelope[]
  /** Media webhooks for placeholders of the last 14 days (empty when none). */
  media: WebhookEnvelope[]
  items: HistoryItem[]
}

const TEXTS_USER = ['Hi, are you open today?', 'Do you deliver?', 'How much is it?', 'Obrigado!', 'Can I change my order?', 'Is the blue one still available?', 'Perfeito 👍']
const TEXTS_BIZ = ['Yes, we open at 9.', 'Same-day delivery, yes.', 'It is R$ 49,90.', 'De nada!', 'Sure, tell me the new address.', 'Yes, in all sizes.']
const MEDIA_KINDS: MediaType[] = ['image', 'image', 'video', 'audio', 'document']

/**
 * The history sync of a number onboarded at `onboardedAt`. `createMedia` registers media for
 * the follow-up webhook (so `GET /{media-id}` can answer for it).
 */
export function generateHistory (
  n: NumberRef,
  s: HistoryScenario,
  onboardedAt: number,
  createMedia: (type: MediaType) => MediaRef
): GeneratedHistory {
  const rnd = seededRandom(s.seed * 104_729 + 17)
  const users = generateUsers(n, Math.max(1, Math.min(s.threads, s.messages || 1)), s.seed)
  const weights = s.phaseWeights
  const total = weights[0] + weights[1] + weights[2] || 1
  const span = Math.min(180, s.days) * DAY
  // Age ranges of the phases, clipped to the scenario's span.
  const ranges: Array<[number, number]> = [[0, DAY], [DAY, 90 * DAY], [90 * DAY, 180 * DAY]].map(([a, b]) => [Math.min(a as number, span), Math.min(b as number, span)])

  const items: HistoryItem[] = []
  for (let i = 0; i < s.messages; i++) {
    const r = rnd() * total
    let phase: 0 | 1 | 2 = r < weights[0] ? 0 : r < weights[0] + weights[1] ? 1 : 2
    while (phase > 0 && (ranges[phase] as [number, number])[1] <= (ranges[phase] as [number, number])[0]) phase = (phase - 1) as 0 | 1
    const [lo, hi] = ranges[phase] as [number, number]
    const age = lo + rnd() * Math.max(1, hi - lo)
    const user = users[i < users.length ? i : Math.floor(rnd() * users.length)] as SimUser
    const media = rnd() < s.mediaRatio ? MEDIA_KINDS[Math.floor(rnd() * MEDIA_KINDS.length)] : undefined
    items.push({
      id: historyWamid(n.phoneNumberId, s.seed, i),
      threadId: user.waId,
      fromBusiness: rnd() < 0.45,
      at: Math.floor(onboardedAt - age),
      phase,
      ...(media !== undefined ? { mediaType: media } : {})
    })
  }

  const chunks: WebhookEnvelope[] = []
  const chunkSizes: number[] = []
  const chunkMeta: Array<{ phase: 0 | 1 | 2, chunkOrder: number, threads: HistoryThread[] }> = []
  for (const phase of [0, 1, 2] as const) {
    const inPhase = items.filter((it) => it.phase === phase).sort((a, b) => a.threadId.localeCompare(b.threadId) || a.at - b.at)
    let order = 0
    for (let i = 0; i < inPhase.length; i += s.chunkSize) {
      const slice = inPhase.slice(i, i + s.chunkSize)
      const threads: HistoryThread[] = []
      for (const it of slice) {
        let t = threads[threads.length - 1]
        if (t === undefined || t.id !== it.threadId) { t = { id: it.threadId, messages: [] }; threads.push(t) }
        t.messages.push(historyMessage(n, it, rnd))
      }
      chunkMeta.push({ phase, chunkOrder: ++order, threads })
      chunkSizes.push(slice.length)
    }
  }
  let done = 0
  chunkMeta.forEach((c, i) => {
    done += chunkSizes[i] as number
    const progress = i === chunkMeta.length - 1 ? 100 : Math.floor((100 * done) / Math.max(1, s.messages))
    chunks.push(buildHistoryChunkWebhook(n, { phase: c.phase, chunkOrder: c.chunkOrder, progress }, c.threads))
  })
  // [I] Meta sends no webhook for an empty phase; with no history at all we still send one
  // final, empty chunk so a consumer can see the sync finished.
  if (chunks.length === 0) chunks.push(buildHistoryChunkWebhook(n, { phase: 2, chunkOrder: 1, progress: 100 }, []))

  const recent = items.filter((it) => it.mediaType !== undefined && onboardedAt - it.at <= 14 * DAY)
  const media: WebhookEnvelope[] = []
  for (let i = 0; i < recent.length; i += 50) {
    const userSent: Record<string, unknown>[] = []
    const bizSent: Record<string, unknown>[] = []
    for (const it of recent.slice(i, i + 50)) {
      const type = it.mediaType as MediaType
      const ref = createMedia(type)
      const obj = { mime_type: ref.mimeType, sha256: ref.sha256, id: ref.id, ...(type === 'document' ? { filename: 'file.pdf' } : {}) }
      if (it.fromBusiness) bizSent.push({ from: n.displayPhoneNumber, to: it.threadId, id: it.id, timestamp: unixSeconds(it.at), type, [type]: obj })
      else userSent.push({ from: it.threadId, id: it.id, timestamp: unixSeconds(it.at), type, [type]: obj })
    }
    media.push(buildHistoryMediaWebhook(n, { messages: userSent, echoes: bizSent }))
  }
  return { chunks, media, items }
}

function historyMessage (n: NumberRef, it: HistoryItem, rnd: () => number): Record<string, unknown> {
  const head = it.fromBusiness
    ? { from: n.displayPhoneNumber, to: it.threadId, id: it.id, timestamp: unixSeconds(it.at) }
    : { from: it.threadId, id: it.id, timestamp: unixSeconds(it.at) }
  const r = rnd()
  const status: HistoryStatus = it.fromBusiness ? (r < 0.6 ? 'READ' : r < 0.9 ? 'DELIVERED' : r < 0.97 ? 'SENT' : 'ERROR') : (r < 0.8 ? 'READ' : 'DELIVERED')
  if (it.mediaType !== undefined) return { ...head, type: 'media_placeholder', history_context: { status } }
  const texts = it.fromBusiness ? TEXTS_BIZ : TEXTS_USER
  return { ...head, type: 'text', text: { body: texts[Math.floor(rnd() * texts.length)] as string }, history_context: { status } }
}

/** Stable wamid of history item `i` (base64, like Meta's, and it may contain `/` and `+`). */
function historyWamid (phoneNumberId: string, seed: number, i: number): string {
  return 'wamid.' + Buffer.from(`HBgM\u0000H${phoneNumberId}:${seed}:${i}\u0015\u0002`).toString('base64')
}
