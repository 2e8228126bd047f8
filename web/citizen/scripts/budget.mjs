#!/usr/bin/env node
// First-load budget: index.html plus every JS/CSS file it references (scripts, stylesheets,
// modulepreload links, and the static imports of those scripts, transitively), each gzipped
// at level 9 as a server would send it. Lazy route chunks (dynamic import()) are not counted.
// Usage: node scripts/budget.mjs [distDir] [limitKB]; exits 1 when over the limit.
import { readFileSync, existsSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join, dirname, posix } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const dist = process.argv[2] || join(here, '..', 'dist');
const limitKB = Number(process.argv[3] || 120);

const gz = (buf) => gzipSync(buf, { level: 9 }).length;
const html = readFileSync(join(dist, 'index.html'));
const files = new Map([['index.html', { raw: html.length, gz: gz(html) }]]);

const refs = [];
const tagRe = /<(script|link)\b[^>]*>/gi;
for (const m of html.toString().matchAll(tagRe)) {
  const tag = m[0];
  const attr = (n) => (new RegExp(`\\b${n}\\s*=\\s*["']([^"']+)["']`, 'i').exec(tag) || [])[1];
  if (m[1].toLowerCase() === 'script') {
    if (attr('src')) refs.push(attr('src'));
  } else {
    const rel = (attr('rel') || '').toLowerCase();
    if (['stylesheet', 'modulepreload', 'preload'].includes(rel) && attr('href')) refs.push(attr('href'));
  }
}

const external = refs.filter((r) => /^(https?:)?\/\//i.test(r));
const staticImport = /(?:^|[;}\n)])\s*import\s*(?:[\w$*{}\s,]+?\s*from\s*)?["']([^"']+)["']/g;
const seen = new Set();
function visit(url) {
  const path = url.replace(/^\//, '').split(/[?#]/)[0];
  if (seen.has(path)) return;
  seen.add(path);
  const file = join(dist, path);
  if (!existsSync(file)) throw new Error(`referenced but missing: ${url}`);
  const buf = readFileSync(file);
  files.set(path, { raw: buf.length, gz: gz(buf) });
  if (path.endsWith('.js')) {
    for (const m of buf.toString().matchAll(staticImport)) {
      const spec = m[1];
      if (spec.startsWith('.') || spec.startsWith('/')) visit(spec.startsWith('/') ? spec : posix.join(posix.dirname('/' + path), spec));
    }
  }
}
refs.filter((r) => !external.includes(r)).forEach(visit);

let total = 0;
for (const [name, s] of files) {
  total += s.gz;
  console.log(`${(s.gz / 1024).toFixed(2).padStart(8)} KB gz  ${(s.raw / 1024).toFixed(2).padStart(8)} KB raw  ${name}`);
}
const kb = total / 1024;
console.log(`first load: ${kb.toFixed(2)} KB gzipped (limit ${limitKB} KB), ${files.size} files`);
if (external.length) {
  console.error(`FAIL: external references in index.html: ${external.join(', ')}`);
  process.exit(1);
}
if (kb > limitKB) {
  console.error(`FAIL: first load ${kb.toFixed(2)} KB > ${limitKB} KB`);
  process.exit(1);
}
console.log('OK');
