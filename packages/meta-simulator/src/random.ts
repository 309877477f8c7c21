/** Seeded randomness, so scenarios, reorderings and generated histories are reproducible. */
import { randomBytes } from 'node:crypto'

/** Deterministic PRNG (mulberry32) for reproducible reordering and duplicates. */
export function seededRandom (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6D2B79F5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** A seeded Fisher–Yates shuffle (returns a new array). */
export function shuffle<T> (list: readonly T[], seed: number): T[] {
  const rnd = seededRandom(seed)
  const out = [...list]
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1))
    const tmp = out[i] as T
    out[i] = out[j] as T
    out[j] = tmp
  }
  return out
}

/** Random digits (not seeded): ids that only need to be unique. */
export function randomDigits (n: number): string {
  const bytes = randomBytes(n)
  let s = ''
  for (let i = 0; i < n; i++) s += String((bytes[i] as number) % 10)
  return (s[0] === '0' ? '1' : '') + s.slice(s[0] === '0' ? 1 : 0)
}
