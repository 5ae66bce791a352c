import { fileURLToPath } from 'node:url';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig } from 'vite';

/** The console builds into dist/console, which the server serves at `/` (src/server/console-route.ts). */
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  plugins: [svelte()],
  logLevel: 'warn',
  build: {
    outDir: fileURLToPath(new URL('../dist/console', import.meta.url)),
    emptyOutDir: true,
    assetsDir: 'assets',
    // The SDK's generated messages make one large chunk; scripts/console-bundle-size.mjs reports it.
    chunkSizeWarningLimit: 5000,
    sourcemap: false,
    // No report of slow plugins on every build (Svelte's compiler is most of the build's time).
    rolldownOptions: { checks: { pluginTimings: false } },
  },
});
