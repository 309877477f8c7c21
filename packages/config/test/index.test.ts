import t from 'tap'
import { ConfigError, adminSection, cryptoSection, databaseSection, httpSection, kafkaSection, loadConfig, metaGraphSection, metaWebhookSection } from '../src/index.ts'

const key = Buffer.alloc(32, 7).toString('base64')

t.test('parses sections with defaults and freezes the result', async (t) => {
  const c = loadConfig({ KAFKA_BROKERS: 'a:9092, b:9093', META_APP_SECRETS: '123:s1,123:s2,456:x', META_VERIFY_TOKEN: 'v', COEXIST_ENCRYPTION_KEY: key }, {
    http: httpSection(8080), kafka: kafkaSection, meta: metaWebhookSection, graph: metaGraphSection, crypto: cryptoSection
  })
  t.same(c.kafka.brokers, ['a:9092', 'b:9093'])
  t.equal(c.kafka.topicPrefix, 'wa.')
  t.equal(c.http.port, 8080)
  t.same(c.meta.appSecrets.get('123'), ['s1', 's2'])
  t.same(c.meta.appSecrets.get('456'), ['x'])
  t.equal(c.graph.graphUrl, 'https://graph.facebook.com')
  t.equal(c.graph.graphVersion, 'v24.0')
  t.equal(c.crypto.encryptionKey.length, 32)
  t.ok(Object.isFrozen(c) && Object.isFrozen(c.kafka))
})

t.test('PORT overrides the default port', async (t) => {
  t.equal(loadConfig({ PORT: '9999' }, { http: httpSection(8080) }).http.port, 9999)
})

t.test('a bad value names the variable in one line', async (t) => {
  const err = t.throws(() => loadConfig({ KAFKA_BROKERS: 'nohost', PORT: 'abc' }, { http: httpSection(8080), kafka: kafkaSection })) as ConfigError
  t.type(err, ConfigError)
  t.match(err.message, /KAFKA_BROKERS: "nohost" is not host:port/)
  t.match(err.message, /PORT: /)
  t.notMatch(err.message, /\n/)
})

t.test('missing required values and weak keys are refused', async (t) => {
  const err = t.throws(() => loadConfig({ COEXIST_ENCRYPTION_KEY: Buffer.alloc(16).toString('base64'), COEXIST_ADMIN_KEY: 'short' }, {
    kafka: kafkaSection, crypto: cryptoSection, admin: adminSection
  })) as ConfigError
  t.same(err.issues.map((i) => i.variable).sort(), ['COEXIST_ADMIN_KEY', 'COEXIST_ENCRYPTION_KEY', 'KAFKA_BROKERS'])
})

t.test('app secrets: an empty list refuses to start', async (t) => {
  t.throws(() => loadConfig({ META_APP_SECRETS: ' , ', META_VERIFY_TOKEN: 'v' }, { meta: metaWebhookSection }), /META_APP_SECRETS/)
  t.throws(() => loadConfig({ META_APP_SECRETS: 'abc:secret', META_VERIFY_TOKEN: 'v' }, { meta: metaWebhookSection }), /META_APP_SECRETS: expected appId:secret/)
})

t.test('empty strings count as unset', async (t) => {
  t.equal(loadConfig({ KAFKA_TOPIC_PREFIX: '', KAFKA_BROKERS: 'k:1' }, { kafka: kafkaSection }).kafka.topicPrefix, 'wa.')
})

t.test('previous encryption keys for rotation', async (t) => {
  const old = Buffer.alloc(32, 1).toString('base64')
  const c = loadConfig({ COEXIST_ENCRYPTION_KEY: key, COEXIST_ENCRYPTION_KEYS_PREVIOUS: `${old}` }, { crypto: cryptoSection })
  t.equal(c.crypto.previousEncryptionKeys.length, 1)
  t.same(c.crypto.previousEncryptionKeys[0], Buffer.alloc(32, 1))
  t.same(loadConfig({ COEXIST_ENCRYPTION_KEY: key }, { crypto: cryptoSection }).crypto.previousEncryptionKeys, [])
  t.throws(() => loadConfig({ COEXIST_ENCRYPTION_KEY: key, COEXIST_ENCRYPTION_KEYS_PREVIOUS: 'abc' }, { crypto: cryptoSection }), /COEXIST_ENCRYPTION_KEYS_PREVIOUS/)
})

t.test('database: the URL and the pool size (default 20)', async (t) => {
  const url = 'postgres://127.0.0.1:5432/coexist'
  t.same(loadConfig({ DATABASE_URL: url }, { db: databaseSection }).db, { url, poolMax: 20 })
  t.equal(loadConfig({ DATABASE_URL: url, DATABASE_POOL_MAX: '6' }, { db: databaseSection }).db.poolMax, 6)
  t.throws(() => loadConfig({ DATABASE_URL: url, DATABASE_POOL_MAX: '0' }, { db: databaseSection }), /DATABASE_POOL_MAX: must be at least 1/)
  t.throws(() => loadConfig({ DATABASE_URL: 'mysql://x' }, { db: databaseSection }), /DATABASE_URL: must be a postgres:\/\/ URL/)
})
