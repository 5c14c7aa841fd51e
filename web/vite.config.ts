// Builds the web UI (web/) into static assets under dist/web/, which src/server/web-ui.ts serves.
// Asset URLs are relative ('./'): index.html carries a <base href> set by the server, so the same
// build works under any --web.route-prefix or --web.external-url path.
import { defineConfig } from 'vite';

export default defineConfig({
  root: import.meta.dirname,
  base: './',
  build: {
    outDir: '../dist/web',
    emptyOutDir: true,
    assetsDir: 'assets',
    // One page, loaded once: a single chunk is simpler to serve and cache than a split.
    chunkSizeWarningLimit: 1024,
    reportCompressedSize: true,
  },
});
