/**
 * What a browser downloads before a page is interactive: the HTML, then the stylesheets, scripts
 * and WASM it names, and the JS those scripts import. Fetched over HTTP from a running server and
 * weighed raw and as brotli at quality 11 (what scripts/precompress.mjs writes), for the size
 * budgets of the first load (issue #10) and the first-load bench.
 */
import { promisify } from 'node:util';
import { brotliCompress, constants } from 'node:zlib';

const compress = promisify(brotliCompress);

/** A kind of first-load resource; fonts and images are not counted. */
export type ResourceKind = 'html' | 'css' | 'js' | 'wasm';

export interface LoadedResource {
  url: string;
  kind: ResourceKind;
  status: number;
  /** Response headers, lower-case names. */
  headers: Record<string, string>;
  raw: number;
  brotli: number;
}

export interface FirstLoad {
  page: string;
  resources: LoadedResource[];
  /** Brotli bytes of every resource together. */
  total: number;
}

/**
 * Brotli at the strongest setting, as the precompressed `.br` files are written. Off the event
 * loop (seconds for the WASM), which also runs the suite's reverse proxy.
 */
async function brotliSize(body: Buffer): Promise<number> {
  const compressed = await compress(body, {
    params: {
      [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY,
      [constants.BROTLI_PARAM_SIZE_HINT]: body.length,
    },
  });
  return compressed.length;
}

interface Tag {
  name: string;
  attributes: Record<string, string>;
  /** The text up to the closing tag (scripts only). */
  text: string;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'" };

function decodeEntities(value: string): string {
  return value.replace(/&(amp|lt|gt|quot|#39);/g, (_, name: string) => ENTITIES[name]);
}

/** The `<link>` and `<script>` tags of server-rendered HTML (well-formed, quoted attributes). */
export function resourceTags(html: string): Tag[] {
  const tags: Tag[] = [];
  const tagPattern = /<(link|script)\b([^>]*)>/gi;
  for (let match = tagPattern.exec(html); match; match = tagPattern.exec(html)) {
    const attributes: Record<string, string> = {};
    const attributePattern = /([a-zA-Z_:][-a-zA-Z0-9_:.]*)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?/g;
    for (
      let attribute = attributePattern.exec(match[2]);
      attribute;
      attribute = attributePattern.exec(match[2])
    ) {
      attributes[attribute[1].toLowerCase()] = decodeEntities(
        attribute[2] ?? attribute[3] ?? attribute[4] ?? '',
      );
    }
    const name = match[1].toLowerCase();
    let text = '';
    if (name === 'script') {
      const end = html.indexOf('</script>', tagPattern.lastIndex);
      text = end < 0 ? '' : html.slice(tagPattern.lastIndex, end);
    }
    tags.push({ name, attributes, text });
  }
  return tags;
}

/**
 * The JS module and WASM that Leptos' inline loader imports: it is called with
 * `(root, pkg_path, js_name, wasm_name, …)` and loads `${root}/${pkg_path}/${js_name}.js`.
 */
function loaderTargets(script: string): string[] {
  const call = /\}\)\(\s*("(?:[^"\\]|\\.)*")\s*,\s*("(?:[^"\\]|\\.)*")\s*,\s*("(?:[^"\\]|\\.)*")\s*,\s*("(?:[^"\\]|\\.)*")/.exec(
    script,
  );
  if (!call) return [];
  const [root, pkg, js, wasm] = call.slice(1, 5).map((literal) => JSON.parse(literal) as string);
  return [`${root}/${pkg}/${js}.js`, `${root}/${pkg}/${wasm}.wasm`];
}

/** The modules a JS file imports by a literal specifier (static and dynamic imports). */
export function jsImports(source: string): string[] {
  const specifiers = new Set<string>();
  const patterns = [
    /\bimport\s*(?:[\w*{}\s,$]+\s*from\s*)?["']([^"']+)["']/g,
    /\bexport\s*[\w*{}\s,$]+\s*from\s*["']([^"']+)["']/g,
    /\bimport\(\s*["']([^"']+)["']\s*\)/g,
  ];
  for (const pattern of patterns) {
    for (let match = pattern.exec(source); match; match = pattern.exec(source)) {
      specifiers.add(match[1]);
    }
  }
  return [...specifiers].filter((s) => s.startsWith('/') || s.startsWith('./') || s.startsWith('../'));
}

function kindOf(url: string, fallback: ResourceKind): ResourceKind {
  const path = new URL(url).pathname;
  if (path.endsWith('.wasm')) return 'wasm';
  if (path.endsWith('.css')) return 'css';
  if (path.endsWith('.js') || path.endsWith('.mjs')) return 'js';
  return fallback;
}

async function fetchResource(
  url: string,
  kind: ResourceKind,
  requestHeaders: Record<string, string>,
): Promise<{ resource: LoadedResource; body: Buffer }> {
  const response = await fetch(url, {
    headers: { 'accept-encoding': 'br, gzip', ...requestHeaders },
    redirect: 'manual',
  });
  const body = Buffer.from(await response.arrayBuffer());
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => (headers[name] = value));
  return {
    resource: { url, kind, status: response.status, headers, raw: body.length, brotli: await brotliSize(body) },
    body,
  };
}

/**
 * Loads `path` from `baseUrl` as a browser's first visit would (nothing cached), sending
 * `headers` (say a session cookie) with the page request, and weighs every HTML, CSS, JS and WASM
 * response it leads to.
 */
export async function measureFirstLoad(
  baseUrl: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<FirstLoad> {
  const pageUrl = new URL(path, baseUrl).href;
  const page = await fetchResource(pageUrl, 'html', { accept: 'text/html', ...headers });
  const resources: LoadedResource[] = [page.resource];
  const seen = new Set<string>([pageUrl]);
  const queue: Array<{ url: string; kind: ResourceKind }> = [];
  const enqueue = (reference: string, base: string, kind: ResourceKind) => {
    const url = new URL(reference, base).href;
    if (!seen.has(url)) {
      seen.add(url);
      queue.push({ url, kind: kindOf(url, kind) });
    }
  };

  for (const tag of resourceTags(page.body.toString('utf8'))) {
    const { rel = '', href, src, as: as_ = '', type = '' } = tag.attributes;
    const rels = rel.toLowerCase().split(/\s+/);
    if (tag.name === 'link' && href) {
      if (rels.includes('stylesheet')) enqueue(href, pageUrl, 'css');
      else if (rels.includes('modulepreload')) enqueue(href, pageUrl, 'js');
      else if (rels.includes('preload') && (type === 'application/wasm' || href.endsWith('.wasm')))
        enqueue(href, pageUrl, 'wasm');
      else if (rels.includes('preload') && as_ === 'script') enqueue(href, pageUrl, 'js');
      else if (rels.includes('preload') && as_ === 'style') enqueue(href, pageUrl, 'css');
    } else if (tag.name === 'script') {
      if (src) enqueue(src, pageUrl, 'js');
      for (const target of loaderTargets(tag.text)) enqueue(target, pageUrl, 'js');
      for (const specifier of jsImports(tag.text)) enqueue(specifier, pageUrl, 'js');
    }
  }

  for (let next = queue.shift(); next; next = queue.shift()) {
    const { resource, body } = await fetchResource(next.url, next.kind, {});
    resources.push(resource);
    if (resource.kind === 'js') {
      for (const specifier of jsImports(body.toString('utf8'))) enqueue(specifier, next.url, 'js');
    }
  }
  return { page: path, resources, total: resources.reduce((sum, r) => sum + r.brotli, 0) };
}

/** `12,345` */
export function bytes(n: number): string {
  return n.toLocaleString('en-US');
}
