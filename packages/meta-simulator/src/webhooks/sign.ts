// TEMPORARY: replaced by @coexist/meta's signBody once packages/meta/src/signature.ts lands.
import { createHmac } from 'node:crypto'

export function signBody (rawBody: string | Buffer, secret: string): string {
  return 'sha256=' + createHmac('sha256', secret).update(rawBody).digest('hex')
}
