import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto'
import { DbErrors } from './errors.ts'

const KEY_BYTES = 32
const IV_BYTES = 12 // GCM's native nonce size
const TAG_BYTES = 16

export interface TokenCipherKeys {
  /** The key new ciphertexts are written under: 32 bytes (COEXIST_ENCRYPTION_KEY). */
  current: Buffer
  /** Keys still accepted for reading, during a rotation; 32 bytes each. */
  previous?: readonly Buffer[]
}

export interface EncryptedToken {
  /** iv (12 bytes) | ciphertext | GCM tag (16 bytes). */
  ciphertext: Buffer
  /** Id of the key it was written under; store it beside the ciphertext. */
  keyId: string
}

export interface TokenCipher {
  /**
   * Encrypts under the current key with a fresh random iv. `aad` (additional authenticated data)
   * binds the ciphertext to a context, e.g. the row it is stored in: decryption must pass the same.
   */
  encrypt: (plain: string, aad?: string) => EncryptedToken
  /**
   * Decrypts with the key named by `keyId`. Throws `DB_TOKEN_KEY_UNKNOWN` when no configured key
   * has that id and `DB_TOKEN_DECRYPT_FAILED` when authentication fails (tampered, truncated,
   * or another `aad`).
   */
  decrypt: (ciphertext: Buffer, keyId: string, aad?: string) => string
  /** Id of the current key; rows under any other id are due for re-encryption. */
  readonly currentKeyId: string
  /** True when `keyId` names a configured key (current or previous). */
  hasKey: (keyId: string) => boolean
}

/**
 * The id of a key: the first 8 hex characters of its SHA-256. Derived, so a rotation needs no
 * extra configuration; it reveals nothing usable about a 256-bit random key.
 */
export function tokenKeyId (key: Buffer): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 8)
}

/**
 * AES-256-GCM for Meta access tokens at rest. Keys live only in this closure: the returned object
 * holds no key material, so logging it leaks nothing.
 *
 * @example
 * const cipher = createTokenCipher({ current: config.encryptionKey, previous: [oldKey] })
 * const { ciphertext, keyId } = cipher.encrypt(token, phoneNumberId)
 * cipher.decrypt(ciphertext, keyId, phoneNumberId) === token
 */
export function createTokenCipher (keys: TokenCipherKeys): TokenCipher {
  const byId = new Map<string, Buffer>()
  const add = (key: Buffer, which: string): string => {
    if (!Buffer.isBuffer(key) || key.length !== KEY_BYTES) {
      throw DbErrors.DB_TOKEN_KEY_INVALID.create({ message: `${which} token encryption key must be ${KEY_BYTES} bytes`, detail: { which } })
    }
    const id = tokenKeyId(key)
    const known = byId.get(id)
    if (known !== undefined && !known.equals(key)) {
      // 32-bit ids: practically never, but a silent mix-up would make tokens unreadable.
      throw DbErrors.DB_TOKEN_KEY_INVALID.create({ message: 'two token encryption keys share a key id; generate a new key', detail: { which, keyId: id } })
    }
    byId.set(id, Buffer.from(key)) // a copy: the caller may reuse or zero its buffer
    return id
  }
  const currentKeyId = add(keys.current, 'current')
  keys.previous?.forEach((k, i) => add(k, `previous[${i}]`))
  const current = byId.get(currentKeyId) as Buffer

  return Object.freeze({
    currentKeyId,
    hasKey: (keyId: string) => byId.has(keyId),
    encrypt (plain: string, aad?: string): EncryptedToken {
      const iv = randomBytes(IV_BYTES)
      const c = createCipheriv('aes-256-gcm', current, iv, { authTagLength: TAG_BYTES })
      if (aad !== undefined) c.setAAD(Buffer.from(aad, 'utf8'))
      const body = Buffer.concat([c.update(plain, 'utf8'), c.final()])
      return { ciphertext: Buffer.concat([iv, body, c.getAuthTag()]), keyId: currentKeyId }
    },
    decrypt (ciphertext: Buffer, keyId: string, aad?: string): string {
      const key = byId.get(keyId)
      if (key === undefined) throw DbErrors.DB_TOKEN_KEY_UNKNOWN.create({ detail: { keyId } })
      if (ciphertext.length < IV_BYTES + TAG_BYTES) {
        throw DbErrors.DB_TOKEN_DECRYPT_FAILED.create({ detail: { keyId, reason: 'too short' } })
      }
      try {
        const d = createDecipheriv('aes-256-gcm', key, ciphertext.subarray(0, IV_BYTES), { authTagLength: TAG_BYTES })
        if (aad !== undefined) d.setAAD(Buffer.from(aad, 'utf8'))
        d.setAuthTag(ciphertext.subarray(ciphertext.length - TAG_BYTES))
        const body = ciphertext.subarray(IV_BYTES, ciphertext.length - TAG_BYTES)
        return Buffer.concat([d.update(body), d.final()]).toString('utf8')
      } catch (err) {
        throw DbErrors.DB_TOKEN_DECRYPT_FAILED.create({ cause: err, detail: { keyId } })
      }
    }
  })
}
