import { ensureTopics, type Admin, type TopicKey, type TopicRegistry } from '@coexist/bus'

/** ensureTopics, retried: a busy shared broker sometimes answers metadata before new topics have leaders. */
export async function ensureTopicsRetrying (admin: Admin, registry: TopicRegistry, keys: readonly TopicKey[]): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await ensureTopics(admin, registry, { only: keys.map((k) => registry.topic(k)) })
      return
    } catch (err) {
      if (attempt >= 5) throw err
      await new Promise((resolve) => setTimeout(resolve, 1000 * attempt))
    }
  }
}
