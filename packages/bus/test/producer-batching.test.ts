import kafkajs, { type PartitionMetadata } from 'kafkajs'
import t from 'tap'
import { memoisingDefaultPartitioner, worthCompressing } from '../src/producer.ts'

const meta = (n: number): PartitionMetadata[] =>
  Array.from({ length: n }, (_, i) => ({ partitionId: i, leader: 1, replicas: [1], isr: [1], partitionErrorCode: 0, offlineReplicas: [] }))

t.test('the memoising partitioner places every key where kafkajs\'s default partitioner does', async (t) => {
  const memo = memoisingDefaultPartitioner()
  const plain = kafkajs.Partitioners.DefaultPartitioner()
  let checked = 0
  const wrong: string[] = []
  for (const n of [1, 3, 12, 24]) {
    for (let i = 0; i < 2000; i++) {
      const key = `62000000000${i}`
      const args = { topic: 'x', partitionMetadata: meta(n), message: { key, value: null } }
      const expected = plain(args)
      if (memo(args) !== expected || memo(args) !== expected) wrong.push(`${n}:${key}`)
      checked++
    }
  }
  t.equal(checked, 8000)
  t.same(wrong, [], 'first and remembered answers match')
  // A record with an explicit partition keeps it.
  t.equal(memo({ topic: 'x', partitionMetadata: meta(12), message: { key: '620000000001', value: null, partition: 7 } }), 7)
})

t.test('gzip only where the record batch of each partition is big enough', async (t) => {
  const rec = (topic: string, key: string | null, bytes: number, partitions = 12) => ({ topic, partitions, bytes, message: { key } })
  const min = 16 * 1024
  // Under the threshold in total: never.
  t.equal(worthCompressing([rec('a', 'k', 1000)], min), false)
  // One key: one partition gets everything.
  t.equal(worthCompressing(Array.from({ length: 20 }, () => rec('a', 'k', 1000)), min), true)
  // 200 KB over 40 keys of two 12-partition topics: ~8 KB per partition batch.
  const spread = Array.from({ length: 200 }, (_, i) => rec(i % 2 === 0 ? 'a' : 'b', `k${i % 40}`, 1000))
  t.equal(worthCompressing(spread, min), false)
  // The same bytes on a 1-partition topic: one big record batch.
  t.equal(worthCompressing(Array.from({ length: 200 }, (_, i) => rec('a', `k${i}`, 1000, 1)), min), true)
  // Null keys may land anywhere: counted as spread.
  t.equal(worthCompressing(Array.from({ length: 30 }, () => rec('a', null, 1000, 3)), min), false)
  t.equal(worthCompressing([rec('a', null, 3 * 1024 * 1024, 3)], min), true)
})
