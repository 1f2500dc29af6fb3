/**
 * `npm run build` (also run by `npm ci` through `prepare`) makes two bundles of the flotilla
 * command:
 * - dist/flotilla.mjs, dependencies left in node_modules: bin/flotilla.js runs it while it is
 *   newer than every source file (a start without loading ~150 TypeScript files through tsx);
 * - dist/image/flotilla.mjs, every dependency inside: what the role images copy (images/*), so
 *   an image is the Node base plus one file and needs no network to build. It has no bundler:
 *   job mode there takes an artifact made by `flotilla bundle`.
 */
import { rmSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = fileURLToPath(new URL("../", import.meta.url));
const started = Date.now();
rmSync(`${root}dist/chunks`, { recursive: true, force: true }); // no chunks of older builds
await build({
  absWorkingDir: root,
  entryPoints: { flotilla: "components/cli/main.ts" },
  outdir: "dist",
  // Chunks load when a command needs them: `version` or a remote `run` skip the cluster code.
  splitting: true,
  chunkNames: "chunks/[name]-[hash]",
  outExtension: { ".js": ".mjs" },
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  packages: "external",
  sourcemap: "linked",
  logLevel: "warning",
});
await build({
  absWorkingDir: root,
  entryPoints: ["components/cli/main.ts"],
  outfile: "dist/image/flotilla.mjs",
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  // esbuild is a native binary (bundling jobs happens on the host); tsx is for sources only.
  external: ["esbuild", "tsx", "cbor-extract"],
  // Some dependencies are CommonJS and call require().
  banner: {
    js: "import { createRequire as __flotillaRequire } from 'node:module'; const require = __flotillaRequire(import.meta.url);",
  },
  legalComments: "none",
  logLevel: "warning",
});
// bin/flotilla.js compares source mtimes with this stamp's (written after the bundle).
writeFileSync(`${root}dist/.built`, new Date().toISOString());
console.log(`dist/flotilla.mjs and dist/image/flotilla.mjs built in ${Date.now() - started} ms`);
