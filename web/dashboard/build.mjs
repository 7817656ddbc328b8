// Builds the dashboard into api/dashboard, which the Go code embeds: app.js bundled (Chart.js
// included) and minified by esbuild, index.html and app.css copied. With --check it builds into a
// temporary directory and fails when the committed files differ from what the sources give.
import { build } from 'esbuild';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const committed = new URL('../../api/dashboard/', import.meta.url).pathname;
const check = process.argv.includes('--check');
const out = check ? mkdtempSync(join(tmpdir(), 'titan-dashboard-')) : committed;

await build({
  entryPoints: ['src/app.js'],
  bundle: true,
  minify: true,
  format: 'iife',
  target: 'es2020',
  legalComments: 'linked',
  outfile: join(out, 'app.js'),
  logLevel: 'warning',
});
cpSync('src/index.html', join(out, 'index.html'));
cpSync('src/app.css', join(out, 'app.css'));

if (check) {
  const names = new Set([...readdirSync(out), ...readdirSync(committed)]);
  const stale = [...names].filter((n) => {
    try {
      return !readFileSync(join(out, n)).equals(readFileSync(join(committed, n)));
    } catch {
      return true;
    }
  });
  rmSync(out, { recursive: true });
  if (stale.length > 0) {
    console.error(`api/dashboard is stale (${stale.join(', ')}): run make dashboard and commit it`);
    process.exit(1);
  }
  console.log('api/dashboard matches web/dashboard');
}
