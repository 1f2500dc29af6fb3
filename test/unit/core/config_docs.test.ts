import { readFileSync } from "node:fs";
import t from "tap";
import { configKeys } from "../../../components/core/mod.ts";
import { configTable, withConfigTable } from "../../../scripts/config-docs.ts";

t.test("the README's configuration reference is the one generated from the schema", (t) => {
  const readme = readFileSync(new URL("../../../README.md", import.meta.url), "utf8");
  t.equal(withConfigTable(readme), readme, "stale: run `npm run docs:config`");
  for (const key of Object.keys(configKeys)) t.match(configTable(), `\`${key}\``);
  t.end();
});
