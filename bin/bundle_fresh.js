// Whether dist/flotilla.mjs (npm run build) is newer than package.json and every source file:
// bin/flotilla.js then runs it, and the benchmarks say which one they measured.
import { readdirSync, statSync } from "node:fs";

const root = new URL("../", import.meta.url);

function newer(dir, since) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory()) {
      if (newer(path, since)) return true;
    } else if (statSync(path).mtimeMs > since) return true;
  }
  return false;
}

/** @returns {boolean} */
export function bundleIsFresh() {
  try {
    const built = statSync(new URL("dist/.built", root)).mtimeMs;
    const src = new URL("components", root).pathname;
    return statSync(new URL("package.json", root)).mtimeMs < built && !newer(src, built);
  } catch {
    return false;
  }
}
