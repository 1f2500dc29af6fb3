/**
 * `npm run build` (also run by `npm ci` through `prepare`): bundles the flotilla command into
 * dist/flotilla.mjs, dependencies left in node_modules. bin/flotilla.js runs the bundle while it
 * is newer than every source file (a CLI start without loading ~150 TypeScript files through
 * tsx) and falls back to the sources otherwise.
 */
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = fileURLToPath(new URL("../", import.meta.url));
const started = Date.now();
await build({
  absWorkingDir: root,
  entryPoints: ["components/cli/main.ts"],
  outfile: "dist/flotilla.mjs",
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  packages: "external",
  sourcemap: "linked",
  logLevel: "warning",
});
// bin/flotilla.js compares source mtimes with this stamp's (written after the bundle).
writeFileSync(`${root}dist/.built`, new Date().toISOString());
console.log(`dist/flotilla.mjs built in ${Date.now() - started} ms`);
