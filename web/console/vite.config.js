import { defineConfig } from 'vite'
import vue from '@vitejs/plugin-vue'

// Served by `baton serve` at /console/ with the API on the same origin; in development and in
// `vite preview` (the e2e test) /api is proxied to a local baton (BATON_API, default :18081).
const target = process.env.BATON_API || 'http://127.0.0.1:18081'
const proxy = { '/api': { target, changeOrigin: false } }

export default defineConfig({
  base: '/console/',
  plugins: [vue()],
  build: { outDir: 'dist', target: 'es2020', chunkSizeWarningLimit: 400 },
  server: { port: 5174, strictPort: false, proxy },
  preview: { port: 4174, proxy },
  test: { environment: 'node', include: ['tests/**/*.test.js'] },
})
