// One linter for the workspace (CONVENTIONS: neostandard, with consistent-type-imports); run by
// `npm test` beside the type-check, and alone with `pnpm lint`
// (`eslint --config scripts/eslint.config.js .` from the repository's root).
// The file lives in scripts/ (the top level holds only the design card's folders), so each config
// object's file patterns are taken from the repository's root (`basePath`); the global ignores
// match anywhere (`**/`), which ESLint applies whatever the base path.
import neostandard from 'neostandard'

const configs = [
  ...neostandard({ ts: true }),
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

export default [
  {
    ignores: [
      // Generated: protobuf-es (scripts/contracts.ts) and kysely-codegen (scripts/db-codegen.ts).
      '**/packages/contracts/src/gen/**',
      '**/packages/db/src/generated/**',
      // Ignored by git (.gitignore).
      '**/.tap/**', '**/coverage/**', '**/tmp/**'
    ]
  },
  ...configs.map((c) => ({ ...c, basePath: '..' }))
]
