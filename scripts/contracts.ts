/**
 * Generates the TypeScript contracts from proto/ into packages/contracts/src/gen (committed).
 *
 *   node scripts/contracts.ts           check proto/, regenerate, replace the committed files
 *   node scripts/contracts.ts --check   check proto/, regenerate into a temp dir and compare;
 *                                       exit 1 naming every differing file (`npm test` runs it)
 *
 * "Check proto/" = `buf lint`, `buf format` (no diff allowed), and `buf breaking` against the
 * last commit (wire and JSON compatibility: contracts are versioned data; a breaking change is
 * a new `v2` package, not an edit of v1). `--allow-breaking` skips the last one.
 *
 * buf and protoc-gen-es come from packages/contracts' devDependencies (no network needed).
 * Generation always goes through a temp dir, so files of deleted .proto files disappear too.
 */
import { execFileSync } from 'node:child_process'
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { delimiter, dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const GEN_REL = 'packages/contracts/src/gen'
const committed = join(root, GEN_REL)
const bin = join(root, 'packages/contracts/node_modules/.bin')
const check = process.argv.includes('--check')
const allowBreaking = process.argv.includes('--allow-breaking')

// protoc-gen-es is a Node script (`#!/usr/bin/env node`): put this Node first on PATH.
const env = { ...process.env, PATH: [bin, dirname(process.execPath), process.env.PATH ?? ''].join(delimiter) }

function buf (args: string[]): void {
  execFileSync(join(bin, 'buf'), args, { cwd: root, env, stdio: 'inherit' })
}

/** True when the last commit has proto/ (then `buf breaking` can compare against it). */
function committedProtoExists (): boolean {
  try {
    execFileSync('git', ['cat-file', '-e', 'HEAD:proto/buf.yaml'], { cwd: root, stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

function step (what: string, fn: () => void): void {
  try {
    fn()
  } catch (err) {
    throw new Error(`${what} failed (see above)`, { cause: err })
  }
}

/** Relative paths of every file under `dir`, sorted. */
function listFiles (dir: string): string[] {
  if (!existsSync(dir)) return []
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => relative(dir, join(d.parentPath, d.name)))
    .sort()
}

const tmp = mkdtempSync(join(tmpdir(), 'coexist-contracts-'))
try {
  step('buf lint', () => buf(['lint', 'proto']))
  step('buf format (run `buf format -w proto`)', () => buf(['format', '--diff', '--exit-code', 'proto']))
  if (!allowBreaking && committedProtoExists()) {
    step('buf breaking against HEAD (add a new version instead, or pass --allow-breaking)',
      () => buf(['breaking', 'proto', '--against', '.git#ref=HEAD,subdir=proto']))
  }
  buf(['generate', 'proto', '--template', 'proto/buf.gen.yaml', '--output', tmp])
  const fresh = join(tmp, GEN_REL)
  const freshFiles = listFiles(fresh)
  if (freshFiles.length === 0) throw new Error(`buf generated nothing under ${GEN_REL}`)

  if (check) {
    const oldFiles = listFiles(committed)
    const problems: string[] = []
    for (const f of freshFiles) {
      if (!oldFiles.includes(f)) problems.push(`missing:  ${GEN_REL}/${f}`)
      else if (!readFileSync(join(fresh, f)).equals(readFileSync(join(committed, f)))) problems.push(`differs:  ${GEN_REL}/${f}`)
    }
    for (const f of oldFiles) if (!freshFiles.includes(f)) problems.push(`stale:    ${GEN_REL}/${f}`)
    if (problems.length > 0) {
      console.error(`contracts: generated code does not match proto/ (${problems.length} file(s)):\n  ${problems.join('\n  ')}\n` +
        'Run `npm run contracts:generate` and commit the result.')
      process.exitCode = 1
    } else {
      console.error(`contracts: ${freshFiles.length} generated files match proto/`)
    }
  } else {
    rmSync(committed, { recursive: true, force: true })
    cpSync(fresh, committed, { recursive: true })
    console.error(`contracts: wrote ${freshFiles.length} files to ${GEN_REL}`)
  }
} catch (err) {
  console.error(`contracts: ${(err as Error).message}`)
  process.exitCode = 1
} finally {
  rmSync(tmp, { recursive: true, force: true })
}
