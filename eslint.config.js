// ESLint flat config: JavaScript's and typescript-eslint's recommended rules over the TypeScript sources.
import js from '@eslint/js'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'fixtures/', 'coverage/'] },
  { files: ['**/*.ts', '**/*.cts'], extends: [js.configs.recommended, ...tseslint.configs.recommended] },
  {
    files: ['**/*.ts', '**/*.cts'],
    rules: {
      // `_name` marks a parameter an interface requires but this implementation does not use.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // `catch {}` is how this code says "absent or unreadable means: use the default" (cache files, /boot, /proc).
      'no-empty': ['error', { allowEmptyCatch: true }],
      // Kernel logs, terminal output and XML/KTAP escaping are matched for control characters on purpose.
      'no-control-regex': 'off',
    },
  },
)
