import DOMPurify from 'dompurify';
import MarkdownIt from 'markdown-it';

/**
 * Markdown as operators write it (headings, emphasis, lists, tables, links, code), without raw
 * HTML: markdown-it escapes any HTML in the text and refuses `javascript:`-style links, and
 * DOMPurify then keeps only the allow-listed tags and attributes below. Links open in a new tab
 * without handing over the portal's window.
 */
const md = new MarkdownIt({ html: false, linkify: true, breaks: true });

const ALLOWED_TAGS = [
  'p',
  'br',
  'hr',
  'h1',
  'h2',
  'h3',
  'h4',
  'h5',
  'h6',
  'strong',
  'em',
  's',
  'code',
  'pre',
  'blockquote',
  'ul',
  'ol',
  'li',
  'a',
  'table',
  'thead',
  'tbody',
  'tr',
  'th',
  'td',
];
const ALLOWED_ATTR = ['href', 'title', 'start', 'align'];
/** http(s) and mailto only; relative links stay inside the portal. */
const ALLOWED_URI_REGEXP = /^(?:https?:|mailto:|\/(?!\/)|#)/i;

let hooked = false;

/** Renders Markdown to HTML that is safe to put into the page. */
export function renderMarkdown(text: string): string {
  if (!hooked) {
    DOMPurify.addHook('afterSanitizeAttributes', (node) => {
      if (node.tagName === 'A' && node.getAttribute('href')) {
        node.setAttribute('target', '_blank');
        node.setAttribute('rel', 'noopener noreferrer nofollow');
      }
    });
    hooked = true;
  }
  return DOMPurify.sanitize(md.render(text), {
    ALLOWED_TAGS,
    ALLOWED_ATTR: [...ALLOWED_ATTR, 'target', 'rel'],
    ALLOWED_URI_REGEXP,
  });
}
