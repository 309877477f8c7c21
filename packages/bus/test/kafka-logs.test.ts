/**
 * kafkajs's own log lines, through createKafka's pino adapter: routine error-level lines are kept
 * for debugging, not shown as errors.
 */
import t from 'tap'
import { createLogger } from '@coexist/logger'
import { createKafka } from '../src/index.ts'

function capture (): { kafkaLogger: (ns: string) => { error: (m: string, extra?: object) => void }, lines: () => Array<{ level: number, msg: string }> } {
  const out: string[] = []
  const logger = createLogger({ level: 'debug' }, { write: (line: string) => { out.push(line) } })
  const kafka = createKafka({ brokers: ['127.0.0.1:1'], clientId: 'log-test', logger })
  return {
    kafkaLogger: (ns) => kafka.logger().namespace(ns),
    lines: () => out.map((l) => JSON.parse(l) as { level: number, msg: string })
  }
}

t.test("a consumer's crash is not logged by kafkajs at error level (the bus consumer logs it once)", async (t) => {
  const c = capture()
  c.kafkaLogger('Consumer').error("Crash: KafkaJSProtocolError: The coordinator is loading and hence can't process requests for this group", { groupId: 'g', retryCount: 0 })
  c.kafkaLogger('Consumer').error('Some other consumer error', { groupId: 'g' })
  const [crash, other] = c.lines()
  t.equal(crash?.level, 20, 'debug')
  t.equal(other?.level, 50, 'other errors stay errors')
})

t.test("kafkajs's restart after a retriable crash is an info line (seen at npm start: a coordinator still loading)", async (t) => {
  const c = capture()
  c.kafkaLogger('Consumer').error('Restarting the consumer in 100ms', { retryCount: 0, retryTime: 100, groupId: 'g' })
  t.equal(c.lines()[0]?.level, 30, 'info')
})

t.test('error responses of a connection are debug lines', async (t) => {
  const c = capture()
  c.kafkaLogger('Connection').error('Response JoinGroup(key: 11, version: 5)', { error: 'The coordinator is loading' })
  t.equal(c.lines()[0]?.level, 20)
})

t.test("kafkajs's produce retries are warnings (the bus producer reports the batch that fails for good)", async (t) => {
  const c = capture()
  c.kafkaLogger('Producer').error('Failed to send messages: This server is not the leader for that topic-partition', { retryCount: 0, retryTime: 114 })
  t.equal(c.lines()[0]?.level, 40, 'warn')
})
