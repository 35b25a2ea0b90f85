// A static SPA: everything renders in the browser, the server only sends index.html and assets.
export const ssr = false;
export const prerender = false;
