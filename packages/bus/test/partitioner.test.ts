import kafkajs, { type PartitionMetadata } from 'kafkajs'
import t from 'tap'
import { memoisingDefaultPartitioner } from '../src/producer.ts'

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
