#!/usr/bin/env node
// The flotilla command. It runs dist/flotilla.mjs (made by `npm run build`, which `npm ci` runs)
// while that bundle is newer than every source file, and otherwise the TypeScript sources through
// tsx's loader: a fast start, and an edit is never hidden behind a stale bundle.
import { bundleIsFresh } from "./bundle_fresh.js";

// The one environment read outside compileConfig: it chooses which code to load (the bundle or
// the sources), so it is decided before any config module exists to read it.
if (process.env.FLOTILLA_FROM_SOURCE !== "1" && bundleIsFresh()) {
  await import("../dist/flotilla.mjs");
} else if (process.argv[2] === "graph-worker" || process.argv[2] === "job-process") {
  // The graph sandbox and job processes run under Node's permission model, where tsx cannot load.
  const which =
    process.argv[2] === "graph-worker"
      ? "the graph sandbox runs the built bundle, which is older than the sources: npm run build (or set dispatcher.graph-sandbox: none)"
      : "a TaskManager's job process runs the built bundle, which is older than the sources: npm run build (or set taskmanager.job-process: none)";
  process.stderr.write(`${which}\n`);
  process.exit(1);
} else {
  const { register } = await import("tsx/esm/api");
  register();
  await import("../components/cli/main.ts");
}
