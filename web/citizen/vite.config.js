import { defineConfig } from 'vite';
import vue from '@vitejs/plugin-vue';

// The API (and the relay role's /r/{code} redirect and /c/{cid}/card.svg) live on the same
// origin under `baton serve`; in dev and preview they are proxied to a local server.
const target = process.env.BATON_API || 'http://127.0.0.1:18080';
const proxy = {
  '/api': { target, changeOrigin: false },
  '/r/': { target, changeOrigin: false },
  // Only the card image: /c/{cid} itself is the app's own route (history mode).
  '^/c/[^/]+/card\\.svg': { target, changeOrigin: false },
};

export default defineConfig({
  base: '/',
  plugins: [vue()],
  build: {
    outDir: 'dist',
    target: ['es2020', 'chrome87', 'safari14'],
    cssTarget: ['chrome87', 'safari14'],
    assetsInlineLimit: 2048,
    modulePreload: { polyfill: false },
  },
  server: { proxy },
  preview: { proxy },
  test: {
    environment: 'node',
    include: ['tests/**/*.test.js'],
  },
});
