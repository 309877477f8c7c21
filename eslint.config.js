// One linter for the workspace (CONVENTIONS: neostandard, with consistent-type-imports); run by
// `npm test` beside the type-check, and alone with `pnpm lint`.
import neostandard, { resolveIgnoresFromGitignore } from 'neostandard'

export default [
  ...neostandard({
    ts: true,
    ignores: [
      ...resolveIgnoresFromGitignore(),
      // Generated: protobuf-es (scripts/contracts.ts) and kysely-codegen (scripts/db-codegen.ts).
      'packages/contracts/src/gen/**',
      'packages/db/src/generated/**'
    ]
  }),
  {
    rules: {
      // `void promise` marks a promise deliberately not awaited (its errors are handled inside).
      'no-void': ['error', { allowAsStatement: true }],
      // Meta's and Postgres's field names are snake_case; so are protobuf-es's file descriptors.
      camelcase: ['error', { properties: 'never', ignoreDestructuring: true, allow: ['^file_coexist_'] }],
      // A variable a closure reads before its single assignment stays `let`.
      'prefer-const': ['error', { destructuring: 'all', ignoreReadBeforeAssign: true }]
    }
  },
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }]
    }
  }
]
