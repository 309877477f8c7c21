/** `npm run simulator`: the Meta simulator on its own (port 8090, PORT overrides). */
import { fileURLToPath } from 'node:url'
await import(fileURLToPath(new URL('../packages/meta-simulator/src/main.ts', import.meta.url)))
