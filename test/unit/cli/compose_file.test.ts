/**
 * The compose files `flotilla cluster` and `run --target compose-job` pass to Compose: every
 * layout's files exist, with and without its TLS overlays, and the overlays come after the files
 * they extend (ha: standalone, ha, standalone-tls, ha-tls), since Compose merges in that order.
 */
import { existsSync } from "node:fs";
import { basename } from "node:path";
import t from "tap";
import { composeFile, LAYOUTS } from "../../../components/cli/compose.ts";

t.test("every layout has its files, and a TLS overlay after each", async (t) => {
  for (const layout of LAYOUTS) {
    const plain = composeFile(layout);
    const tls = composeFile(layout, true);
    for (const file of tls) t.ok(existsSync(file), `${layout}: ${basename(file)} exists`);
    t.same(tls.slice(0, plain.length), plain, `${layout}: the layout's files first`);
    t.same(
      tls.slice(plain.length).map((f) => basename(f)),
      plain.map((f) => basename(f).replace(/\.yml$/, "-tls.yml")),
      `${layout}: then each one's TLS overlay`,
    );
  }
  t.same(
    composeFile("ha", true).map((f) => basename(f)),
    ["standalone.yml", "ha.yml", "standalone-tls.yml", "ha-tls.yml"],
  );
});

t.test("an unknown layout is a usage error naming the layouts", async (t) => {
  t.throws(() => composeFile("swarm", true), { usage: true, message: /bad --layout "swarm"/ });
});
