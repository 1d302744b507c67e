/**
 * Markdown for dataset text, made inert. markdown-it runs with raw HTML off (a `<script>` in the text
 * stays text), links and images are rendered as plain text naming their target (nothing to click,
 * nothing to load), and DOMPurify then keeps only formatting tags with no attributes at all — so
 * even a bug in the first two layers cannot produce a script, a handler, a style or a URL. The CSP
 * is the last layer.
 */
import DOMPurify from 'dompurify';
import MarkdownIt from 'markdown-it';

const markdown = new MarkdownIt({ html: false, linkify: false, typographer: false });

// A link shows its text and target; the target is never a live URL.
markdown.renderer.rules.link_open = () => '';
markdown.renderer.rules.link_close = (tokens, index) => {
  let open = index - 1;
  while (open >= 0 && tokens[open].type !== 'link_open') open--;
  const href = open >= 0 ? (tokens[open].attrGet('href') ?? '') : '';
  return href ? ` <span class="link-target">(${markdown.utils.escapeHtml(String(href))})</span>` : '';
};
markdown.renderer.rules.image = (tokens, index) => {
  const token = tokens[index];
  const alt = markdown.utils.escapeHtml(token.content);
  const src = markdown.utils.escapeHtml(String(token.attrGet('src') ?? ''));
  return `<span class="image-ref">[image: ${alt}] (${src})</span>`;
};

const ALLOWED_TAGS = [
  'p', 'br', 'hr', 'em', 'strong', 's', 'code', 'pre', 'blockquote', 'ul', 'ol', 'li',
  'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'table', 'thead', 'tbody', 'tr', 'th', 'td', 'span',
];

/** Renders `text` as markdown into a sanitized fragment: formatting only, no attributes but a class. */
export function renderMarkdown(text: string): DocumentFragment {
  const html = markdown.render(text);
  return DOMPurify.sanitize(html, {
    ALLOWED_TAGS,
    ALLOWED_ATTR: ['class'],
    ALLOW_DATA_ATTR: false,
    RETURN_DOM_FRAGMENT: true,
  });
}
