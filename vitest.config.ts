import { defineConfig } from 'vitest/config'

// Unit tests beside the code; behaviour specs in specs/. scripts/test.mjs decides which
// backend the specs run on (KMODSPEC_BACKEND) and runs them once per backend.
export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'specs/**/*.spec.ts'],
    testTimeout: 120_000,
    hookTimeout: 300_000,
    typecheck: { enabled: true, include: ['src/**/*.test-d.ts'], tsconfig: './tsconfig.json' },
  },
})
