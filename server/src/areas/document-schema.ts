import * as Y from 'yjs';

/** The shared type the editor writes into (Tiptap's Collaboration `field`). */
export const DOCUMENT_FIELD = 'default';

/**
 * The element names the editor's schema knows (Tiptap's StarterKit). An update that brings any
 * other element, another root type, or a type the editor never makes is refused: a client that
 * bypasses the editor cannot smuggle `<script>` or other content into everybody's document.
 */
export const ALLOWED_NODES: ReadonlySet<string> = new Set([
  'paragraph',
  'heading',
  'bulletList',
  'orderedList',
  'listItem',
  'blockquote',
  'codeBlock',
  'horizontalRule',
  'hardBreak',
]);

/** True when every new item of an update stays inside the document field and the schema. */
export function fitsSchema(update: Uint8Array): boolean {
  const { structs } = Y.decodeUpdate(update);
  for (const struct of structs) {
    if (!(struct instanceof Y.Item)) continue;
    if (typeof struct.parent === 'string' && struct.parent !== DOCUMENT_FIELD) return false;
    if (struct.content instanceof Y.ContentType) {
      const type = struct.content.type;
      if (type instanceof Y.XmlElement) {
        if (!ALLOWED_NODES.has(type.nodeName)) return false;
      } else if (!(type instanceof Y.XmlText)) return false;
    }
  }
  return true;
}
