// Markdown for Claude's text. Raw HTML is never rendered (`html: false`: it comes out escaped),
// images are off (no request to anywhere), and links are kept only for http(s), opening in a new
// tab with rel="noopener noreferrer". Everything else markdown-it escapes.

import MarkdownIt from "markdown-it";

const md = new MarkdownIt({ html: false, linkify: true, breaks: false, typographer: false });
md.disable(["image"]);

md.validateLink = (url: string): boolean => /^https?:\/\//i.test(url.trim());

const defaultLinkOpen =
  md.renderer.rules.link_open ?? ((tokens, idx, options, _env, self) => self.renderToken(tokens, idx, options));
md.renderer.rules.link_open = (tokens, idx, options, env, self) => {
  const t = tokens[idx]!;
  t.attrSet("target", "_blank");
  t.attrSet("rel", "noopener noreferrer");
  return defaultLinkOpen(tokens, idx, options, env, self);
};

const cache = new Map<string, string>();

/** HTML for a Markdown text; safe to insert (markdown-it escapes everything, html is off). */
export function renderMarkdown(text: string): string {
  let html = cache.get(text);
  if (html === undefined) {
    html = md.render(text);
    if (cache.size > 500) cache.clear();
    cache.set(text, html);
  }
  return html;
}
