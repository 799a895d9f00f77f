/// <reference types="vitest/config" />
import { defineConfig } from 'vite'

export default defineConfig({
  // Assets become /admin/assets/…, so deep links load them.
  base: '/admin/',
  build: { target: 'es2022', outDir: 'dist', emptyOutDir: true },
  server: { proxy: { '/api': process.env.RAMPART_URL ?? 'http://127.0.0.1:8080' } },
  test: { include: ['src/**/*.test.ts'] },
})
