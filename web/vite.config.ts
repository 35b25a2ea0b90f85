import { sveltekit } from '@sveltejs/kit/vite';
import { defineConfig } from 'vite';

/** Where `npm run dev` forwards API and socket traffic: the server started by scripts/dev.mjs. */
const target = process.env.KIS_DEV_SERVER ?? 'http://127.0.0.1:3000';

export default defineConfig({
  plugins: [sveltekit()],
  server: {
    port: 5173,
    strictPort: true,
    proxy: {
      '/api': { target, changeOrigin: true },
      '/healthz': { target, changeOrigin: true },
      '/readyz': { target, changeOrigin: true },
      '/socket.io': {
        target,
        ws: true,
        changeOrigin: true,
        // The server admits sockets from its own origin only; present the proxied request as such.
        configure: (proxy) => {
          proxy.on('proxyReqWs', (proxyReq) => proxyReq.setHeader('origin', target));
          proxy.on('proxyReq', (proxyReq) => proxyReq.setHeader('origin', target));
        },
      },
    },
  },
});
