import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

// Unit tests beside the code; behaviour specs in specs/. scripts/test.mjs decides which
// backend the specs run on (KMODSPEC_BACKEND) and runs them once per backend.
export default defineConfig({
  // Specs import 'kmodspec' as users do; here it is the source, not the built package.
  resolve: {
    alias: [
      { find: /^kmodspec\/vitest$/, replacement: fileURLToPath(new URL('./src/vitest/index.ts', import.meta.url)) },
      { find: /^kmodspec$/, replacement: fileURLToPath(new URL('./src/index.ts', import.meta.url)) },
    ],
  },
  test: {
    include: ['src/**/*.test.ts', 'specs/**/*.spec.ts'],
    testTimeout: 120_000,
    hookTimeout: 300_000,
    typecheck: { enabled: true, include: ['src/**/*.test-d.ts'], tsconfig: './tsconfig.json' },
  },
})
