import t from 'tap'
import { ConfigError } from '@coexist/config'
import { DEFAULT_BODY_LIMIT_BYTES, loadIngressConfig } from '../src/config.ts'

const base = { KAFKA_BROKERS: '127.0.0.1:9092', META_APP_SECRETS: '100:s1,100:s2,200:t1', META_VERIFY_TOKEN: 'vt' }

t.test('defaults: port 8080, a body limit above Meta\'s 3 MB, 5 s publish deadline', async (t) => {
  const c = loadIngressConfig(base)
  t.equal(c.http.port, 8080)
  t.equal(c.ingress.bodyLimitBytes, DEFAULT_BODY_LIMIT_BYTES)
  t.ok(c.ingress.bodyLimitBytes > 3_000_000)
  t.equal(c.ingress.publishTimeoutMs, 5000)
  t.equal(c.kafka.topicPrefix, 'wa.')
  t.same([...c.meta.appSecrets.get('100') ?? []], ['s1', 's2'], 'several secrets per app (rotation)')
  t.equal(c.meta.verifyToken, 'vt')
  t.ok(Object.isFrozen(c.ingress))
})

t.test('overrides, and bad values named in one message', async (t) => {
  const c = loadIngressConfig({ ...base, PORT: '9000', INGRESS_BODY_LIMIT_BYTES: '5000000', INGRESS_PUBLISH_TIMEOUT_MS: '1500', INGRESS_DRAIN_MS: '0', INGRESS_TOPIC_PARTITIONS: '24' })
  t.match(c, { http: { port: 9000 }, ingress: { bodyLimitBytes: 5_000_000, publishTimeoutMs: 1500, drainMs: 0, topicPartitions: 24 } })
  t.throws(() => loadIngressConfig({ ...base, INGRESS_BODY_LIMIT_BYTES: '1048576' }), { name: 'ConfigError', message: /INGRESS_BODY_LIMIT_BYTES: must exceed Meta's 3 MB/ })
  t.throws(() => loadIngressConfig({ ...base, INGRESS_BODY_LIMIT_BYTES: String(64 * 1024 * 1024) }), { message: /INGRESS_BODY_LIMIT_BYTES: must stay under the webhook topics' record limit/ })
  try {
    loadIngressConfig({ KAFKA_BROKERS: 'nope', INGRESS_PUBLISH_TIMEOUT_MS: '-1' })
    t.fail('should throw')
  } catch (err) {
    t.ok(err instanceof ConfigError)
    const names = (err as ConfigError).issues.map((i) => i.variable)
    for (const v of ['KAFKA_BROKERS', 'META_APP_SECRETS', 'META_VERIFY_TOKEN', 'INGRESS_PUBLISH_TIMEOUT_MS']) t.ok(names.includes(v), v)
    t.notMatch((err as Error).message, 's1', 'no secret in the message')
  }
})
