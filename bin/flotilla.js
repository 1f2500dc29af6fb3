#!/usr/bin/env node
// The flotilla command. It runs dist/flotilla.mjs (made by `npm run build`, which `npm ci` runs)
// while that bundle is newer than every source file, and otherwise the TypeScript sources through
// tsx's loader: a fast start, and an edit is never hidden behind a stale bundle.
import { readdirSync, statSync } from "node:fs";

const root = new URL("../", import.meta.url);

function newest(dir, since) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory()) {
      if (newest(path, since)) return true;
    } else if (statSync(path).mtimeMs > since) return true;
  }
  return false;
}

function bundleIsFresh() {
  try {
    const built = statSync(new URL("dist/.built", root)).mtimeMs;
    const src = new URL("components", root).pathname;
    return statSync(new URL("package.json", root)).mtimeMs < built && !newest(src, built);
  } catch {
    return false;
  }
}

if (process.env.FLOTILLA_FROM_SOURCE !== "1" && bundleIsFresh()) {
  await import("../dist/flotilla.mjs");
} else {
  const { register } = await import("tsx/esm/api");
  register();
  await import("../components/cli/main.ts");
}
