import t from 'tap'
import { imageRuntime, parseImageRuntime } from '../../scripts/lib/image-runtime.ts'

t.test('NODE_OPTIONS flags, then the CMD flags before the entry; MALLOC_ARENA_MAX from ENV', async (t) => {
  const rt = parseImageRuntime([
    'FROM node:24-slim',
    'ENV NODE_ENV=production PORT=8080',
    'ENV NODE_OPTIONS="--max-old-space-size=160 --max-semi-space-size=16" MALLOC_ARENA_MAX=2',
    'HEALTHCHECK CMD node -e "1"',
    'CMD ["node", "--heap-growing-percent=100", "services/ingress/src/main.ts"]'
  ].join('\n'))
  t.same(rt.nodeArgs, ['--max-old-space-size=160', '--max-semi-space-size=16', '--heap-growing-percent=100'])
  t.same(rt.env, { MALLOC_ARENA_MAX: '2' })
})

t.test('an image that sets nothing gives no flags and no environment', async (t) => {
  const rt = parseImageRuntime('FROM node:24-slim\nCMD ["node", "main.ts"]\n')
  t.same(rt.nodeArgs, [])
  t.same(rt.env, {})
})

t.test('a name only mentioned outside ENV (a comment, a RUN) is not a setting', async (t) => {
  const rt = parseImageRuntime('# NODE_OPTIONS="--inspect" would be unsafe\nRUN NODE_OPTIONS="--x" node warm.ts\nCMD ["node", "main.ts"]\n')
  t.same(rt.nodeArgs, [])
})

t.test('every service image parses, with a bounded old space (they run in 256 MB containers)', async (t) => {
  for (const image of ['ingress', 'sync', 'outbound-sender', 'billing']) {
    const rt = imageRuntime(image)
    t.ok(rt.nodeArgs.some((f) => /^--max-old-space-size=\d+$/.test(f)), `${image}: ${rt.nodeArgs.join(' ')}`)
    t.equal(rt.env.MALLOC_ARENA_MAX, '2', image)
  }
})
