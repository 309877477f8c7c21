/**
 * Media the simulator has mentioned in webhooks (inbound media, history media), so the Graph
 * `GET /{media-id}` and the download URL it returns work like Meta's: the URL is valid for five
 * minutes and the download needs the number's Bearer token.
 */
import { createHash, createHmac, randomBytes } from 'node:crypto'
import { randomDigits } from './random.ts'
import { MEDIA_MIME, type MediaRef, type MediaType } from './webhooks/builders.ts'

/** Meta: a media URL from `GET /{media-id}` expires after 5 minutes. */
const MEDIA_URL_TTL_MS = 5 * 60_000

export interface StoredMedia {
  id: string
  phoneNumberId: string
  mimeType: string
  /** Hex SHA-256 of `bytes`. */
  sha256: string
  bytes: Buffer
  createdAt: number
}

const EXT: Record<string, string> = { 'image/jpeg': 'jpg', 'video/mp4': 'mp4', 'audio/ogg; codecs=opus': 'ogg', 'application/pdf': 'pdf', 'image/webp': 'webp' }

/** In-memory media registry with signed, expiring download URLs. */
export class MediaStore {
  #media = new Map<string, StoredMedia>()
  #key = randomBytes(16)

  /** Registers generated media for a number and returns the reference a webhook carries. */
  create (phoneNumberId: string, type: MediaType, now: number, mimeType: string = MEDIA_MIME[type]): MediaRef {
    const id = randomDigits(16)
    const bytes = Buffer.from(`simulated ${type} ${id} for ${phoneNumberId}\n`.repeat(8))
    const sha256 = createHash('sha256').update(bytes).digest('hex')
    this.#media.set(id, { id, phoneNumberId, mimeType, sha256, bytes, createdAt: now })
    return { id, mimeType, sha256 }
  }

  /** Stores uploaded bytes (`POST /{phone-number-id}/media`). */
  put (phoneNumberId: string, bytes: Buffer, mimeType: string, now: number): StoredMedia {
    const id = randomDigits(16)
    const m = { id, phoneNumberId, mimeType, sha256: createHash('sha256').update(bytes).digest('hex'), bytes, createdAt: now }
    this.#media.set(id, m)
    return m
  }

  get (id: string): StoredMedia | undefined {
    return this.#media.get(id)
  }

  /** A download URL under `baseUrl`, valid until `now + MEDIA_URL_TTL_MS`. */
  url (baseUrl: string, m: StoredMedia, now: number): string {
    const exp = Math.floor(now + MEDIA_URL_TTL_MS)
    const ext = EXT[m.mimeType] ?? 'bin'
    return `${baseUrl}/_media/download?mid=${m.id}&ext=${ext}&exp=${exp}&hash=${this.#sign(m.id, exp)}`
  }

  /** Checks a download URL's query; returns the media or why it is refused. */
  resolve (query: { mid?: string, exp?: string, hash?: string }, now: number): StoredMedia | 'expired' | 'not_found' {
    const m = query.mid === undefined ? undefined : this.#media.get(query.mid)
    const exp = Number(query.exp)
    if (m === undefined || !Number.isFinite(exp) || query.hash !== this.#sign(m.id, exp)) return 'not_found'
    if (now > exp) return 'expired'
    return m
  }

  clear (): void { this.#media.clear() }

  #sign (id: string, exp: number): string {
    return createHmac('sha256', this.#key).update(`${id}:${exp}`).digest('base64url').slice(0, 22)
  }
}
