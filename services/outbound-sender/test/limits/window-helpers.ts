/** Highest number of times in any half-open window [x, x + windowMs); `times` sorted ascending. */
export function maxInWindow (times: readonly number[], windowMs: number): number {
  let best = 0
  let j = 0
  for (let i = 0; i < times.length; i++) {
    while ((times[i] as number) - (times[j] as number) >= windowMs) j++
    best = Math.max(best, i - j + 1)
  }
  return best
}

/** A small seeded PRNG (mulberry32) so a failing run can be replayed. */
export function seeded (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let x = Math.imul(a ^ (a >>> 15), 1 | a)
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}
