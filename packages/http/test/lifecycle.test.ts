import t from 'tap'
import { installGracefulShutdown, listen, serve } from '../src/index.ts'
import { buildTestApp, captureLogs } from './helpers.ts'

t.test('shutdown: not ready at once, in-flight requests finish, then onShutdown, then exit 0', async (t) => {
  const logs = captureLogs('info')
  const app = await buildTestApp(t, { logger: logs.logger })
  const order: string[] = []
  let release = (): void => {}
  let entered = (): void => {}
  const inHandler = new Promise<void>((resolve) => { entered = resolve })
  app.get('/v1/slow', { config: { auth: 'none' } }, async () => {
    entered()
    await new Promise<void>((resolve) => { release = resolve })
    order.push('slow request answered')
    return { ok: true }
  })
  // Released only once close has begun, so the close must wait for it.
  app.addHook('preClose', async () => { order.push('close started'); setImmediate(() => release()) })

  const address = await listen(app, { host: '127.0.0.1', port: 0 })
  t.match(address, /^http:\/\/127\.0\.0\.1:\d+$/)
  t.equal((await fetch(`${address}/health/ready`)).status, 200)

  const slow = fetch(`${address}/v1/slow`)
  await inHandler
  const exits: number[] = []
  const handle = installGracefulShutdown(app, {
    logger: logs.logger,
    drainMs: 30,
    timeoutMs: 5_000,
    signals: [],
    exit: (code) => { exits.push(code) },
    onShutdown: async () => { order.push('onShutdown') }
  })
  t.teardown(handle.uninstall)
  const done = handle.shutdown('test')
  const ready = await fetch(`${address}/health/ready`, { headers: { connection: 'close' } })
  t.equal(ready.status, 503, 'not ready during the drain period')
  t.same(await ready.json(), { status: 'shutting_down', checks: {} })

  const res = await slow
  t.equal(res.status, 200, 'the in-flight request completed')
  t.same(await res.json(), { ok: true })
  t.equal(await done, 0)
  t.same(exits, [0])
  t.same(order, ['close started', 'slow request answered', 'onShutdown'])
  t.equal(await handle.shutdown('again'), 0, 'idempotent')
  t.same(exits, [0], 'exits once')
  t.ok(logs.lines().some((l) => l.msg === 'shutting down' && l.reason === 'test'))
  t.ok(logs.lines().some((l) => l.msg === 'shutdown complete'))
})

t.test('a failing onShutdown exits 1 and is logged', async (t) => {
  const logs = captureLogs('info')
  const app = await buildTestApp(t, { logger: logs.logger })
  const exits: number[] = []
  const handle = installGracefulShutdown(app, { logger: logs.logger, drainMs: 0, signals: [], exit: (c) => { exits.push(c) }, onShutdown: async () => { throw new Error('kafka close failed') } })
  t.equal(await handle.shutdown('test'), 1)
  t.same(exits, [1])
  t.ok(logs.lines().some((l) => l.msg === 'shutdown failed' && (l.err as { message: string }).message === 'kafka close failed'))
})

t.test('a shutdown that outlasts timeoutMs exits 1', async (t) => {
  const logs = captureLogs('info')
  const app = await buildTestApp(t, { logger: logs.logger })
  const exits: number[] = []
  const handle = installGracefulShutdown(app, { logger: logs.logger, drainMs: 0, timeoutMs: 30, signals: [], exit: (c) => { exits.push(c) }, onShutdown: async () => await new Promise<void>(() => {}) })
  t.equal(await handle.shutdown('test'), 1)
  t.same(exits, [1])
  t.ok(logs.lines().some((l) => l.msg === 'shutdown timed out; exiting'))
})

t.test('SIGTERM starts the shutdown; a second signal exits 1 at once', async (t) => {
  const logs = captureLogs('info')
  const app = await buildTestApp(t, { logger: logs.logger })
  const exits: number[] = []
  let finishShutdown = (): void => {}
  let onShutdownEntered = (): void => {}
  const inOnShutdown = new Promise<void>((resolve) => { onShutdownEntered = resolve })
  const handle = installGracefulShutdown(app, {
    logger: logs.logger,
    drainMs: 0,
    exit: (c) => { exits.push(c) },
    onShutdown: async () => {
      onShutdownEntered()
      await new Promise<void>((resolve) => { finishShutdown = resolve })
    }
  })
  t.teardown(handle.uninstall)
  process.emit('SIGTERM')
  t.equal((await app.inject({ method: 'GET', url: '/health/ready' })).statusCode, 503)
  process.emit('SIGINT')
  t.same(exits, [1], 'second signal: immediate exit 1')
  await inOnShutdown
  finishShutdown()
  t.equal(await handle.shutdown('ignored'), 1, 'the running shutdown does not exit again')
  t.same(exits, [1])
  handle.uninstall()
  t.equal(process.listenerCount('SIGTERM') > 0 && process.listeners('SIGTERM').some((l) => l.name === 'onSignal'), false, 'listeners removed')
})

t.test('serve: listens with graceful shutdown installed and says where it answers', async (t) => {
  const logs = captureLogs('info')
  const app = await buildTestApp(t, { logger: logs.logger })
  const exits: number[] = []
  const running = await serve(app, { logger: logs.logger, host: '0.0.0.0', port: 0, drainMs: 0, signals: [], exit: (c) => { exits.push(c) } })
  t.teardown(running.handle.uninstall)
  t.not(running.port, 0, 'the port the OS chose')
  t.equal(running.url, `http://127.0.0.1:${running.port}`, 'every interface: reached on 127.0.0.1')
  t.equal((await fetch(`${running.url}/health/live`)).status, 200)
  t.equal(await running.shutdown('test'), 0)
  t.same(exits, [0])
  await t.rejects(fetch(`${running.url}/health/live`), 'closed')
})

t.test('serve: a port in use throws and leaves no signal handler behind', async (t) => {
  const logs = captureLogs('info')
  const first = await buildTestApp(t, { logger: logs.logger })
  const taken = await serve(first, { logger: logs.logger, host: '127.0.0.1', port: 0, drainMs: 0, signals: [], exit: () => {} })
  t.teardown(() => taken.shutdown('test end'))
  const second = await buildTestApp(t, { logger: logs.logger })
  const before = process.listenerCount('SIGUSR2')
  await t.rejects(serve(second, { logger: logs.logger, host: '127.0.0.1', port: taken.port, signals: ['SIGUSR2'], exit: () => {} }), { code: 'EADDRINUSE' })
  t.equal(process.listenerCount('SIGUSR2'), before, 'handlers removed')
})
