import adapter from '@sveltejs/adapter-static';
import { vitePreprocess } from '@sveltejs/vite-plugin-svelte';

/** @type {import('@sveltejs/kit').Config} */
const config = {
  preprocess: vitePreprocess(),
  kit: {
    // A static SPA: the server serves build/ and answers every client-side route with index.html.
    adapter: adapter({ pages: 'build', assets: 'build', fallback: 'index.html', strict: true }),
    // No inline style injection, so the server's CSP can stay at style-src 'self'.
    inlineStyleThreshold: 0,
  },
};

export default config;
