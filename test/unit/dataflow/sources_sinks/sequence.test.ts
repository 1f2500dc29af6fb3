/** sources.sequence: ownership by subtask, positions, and restores at the same and other parallelisms. */
import t from "tap";
import { InvalidArgumentError } from "../../../../components/core/mod.ts";
import type { SequenceRecord } from "../../../../components/dataflow/sources/mod.ts";
import { sources } from "../../../../components/dataflow/sources/mod.ts";
import type { Source, SourceReader } from "../../../../components/dataflow/types.ts";
import { testContext } from "../../../support/dataflow.ts";

function readers<T>(source: Source<T>, parallelism: number): SourceReader<T>[] {
  return Array.from({ length: parallelism }, (_, subtask) =>
    source.createReader(testContext({ subtask, parallelism })),
  );
}

/** Polls until the reader ends, or until `limit` records when given. */
async function readAll<T>(
  reader: SourceReader<T>,
  { max = 3, limit = Infinity } = {},
): Promise<T[]> {
  const out: T[] = [];
  while (out.length < limit) {
    const batch = await reader.poll(Math.min(max, limit - out.length));
    if (batch === null) break;
    out.push(...batch.values);
  }
  return out;
}

const key = (r: SequenceRecord) => `${r.key}:${r.seq}`;

function expectedAll(keys: number, perKey: number): string[] {
  const all: string[] = [];
  for (let k = 0; k < keys; k++) for (let s = 0; s < perKey; s++) all.push(`${k}:${s}`);
  return all.sort();
}

t.test("each key counts up from 0 by one, on the subtask k % parallelism, then ends", async (t) => {
  const source = sources.sequence({ keys: 5, perKey: 4 });
  t.equal(source.bounded, true);
  const [first, second] = readers(source, 2);
  const a = await readAll(first!);
  const b = await readAll(second!);
  t.same([...new Set(a.map((r) => r.key))].sort(), [0, 2, 4]);
  t.same([...new Set(b.map((r) => r.key))].sort(), [1, 3]);
  for (const k of [0, 1, 2, 3, 4]) {
    const seqs = [...a, ...b].filter((r) => r.key === k).map((r) => r.seq);
    t.same(seqs, [0, 1, 2, 3], `key ${k} in order`);
  }
  t.equal(await first!.poll(10), null, "stays ended");
  t.same(first!.position(), {
    next: [
      [0, 4],
      [2, 4],
      [4, 4],
    ],
  });
});

t.test("keys interleave within a reader instead of one running ahead", async (t) => {
  const [reader] = readers(sources.sequence({ keys: 3, perKey: 10 }), 1);
  const batch = await reader!.poll(6);
  t.same(batch!.values.map(key), ["0:0", "1:0", "2:0", "0:1", "1:1", "2:1"]);
});

t.test(
  "restore from 2 readers' positions into 3 and into 1: exactly the remaining records",
  async (t) => {
    const keys = 7;
    const perKey = 5;
    const source = sources.sequence({ keys, perKey });
    const before = readers(source, 2);
    const seen: string[] = [];
    seen.push(...(await readAll(before[0]!, { limit: 8 })).map(key));
    seen.push(...(await readAll(before[1]!, { limit: 3 })).map(key));
    const positions = before.map((r) => structuredClone(r.position()));

    for (const parallelism of [3, 1, 2]) {
      const after = readers(source, parallelism);
      const rest: string[] = [];
      for (const reader of after) {
        await reader.restore!(positions);
        rest.push(...(await readAll(reader)).map(key));
      }
      const all = [...seen, ...rest].sort();
      t.equal(new Set(all).size, all.length, `no duplicate at parallelism ${parallelism}`);
      t.same(all, expectedAll(keys, perKey), `no gap at parallelism ${parallelism}`);
    }
  },
);

t.test("unbounded: a restored reader continues every key where the position left it", async (t) => {
  const source = sources.sequence({ keys: 2 });
  t.equal(source.bounded, false);
  const [reader] = readers(source, 1);
  t.same((await readAll(reader!, { limit: 5 })).map(key), ["0:0", "1:0", "0:1", "1:1", "0:2"]);
  const [restored] = readers(source, 1);
  await restored!.restore!([reader!.position()]);
  t.same(
    (await readAll(restored!, { limit: 3 })).map(key),
    ["0:3", "1:2", "0:4"].slice(0, 0).concat(
      // key 0 resumes at 3, key 1 at 2; round robin starts at key 0
      ["0:3", "1:2", "0:4"],
    ),
  );
});

t.test("event timestamps are startTime + seq * stepMs, index-aligned with values", async (t) => {
  const [reader] = readers(
    sources.sequence({ keys: 2, perKey: 3, startTime: 1000, stepMs: 10 }),
    1,
  );
  const batch = await reader!.poll(4);
  t.same(batch!.values.map(key), ["0:0", "1:0", "0:1", "1:1"]);
  t.same(batch!.timestamps, [1000, 1000, 1010, 1010]);
  const [plain] = readers(sources.sequence({ keys: 1, perKey: 1 }), 1);
  t.equal((await plain!.poll(1))!.timestamps, undefined, "no timestamps unless asked for");
});

t.test("the rate limit counts on the context's clock", async (t) => {
  const ctx = testContext({ manualClock: true });
  const reader = sources.sequence({ keys: 1, ratePerSecond: 10 }).createReader(ctx);
  t.equal((await reader.poll(100))!.values.length, 1, "one record right away");
  t.equal((await reader.poll(100))!.values.length, 0, "nothing until the clock moves");
  ctx.advanceClock(500);
  t.same((await reader.poll(100))!.values.map(key), ["0:1", "0:2", "0:3", "0:4", "0:5"]);
  ctx.advanceClock(60_000);
  t.equal((await reader.poll(100))!.values.length, 10, "a stalled reader bursts at most 1 s worth");
});

t.test("a reader that owns no key ends at once when bounded", async (t) => {
  const all = readers(sources.sequence({ keys: 2, perKey: 3 }), 3);
  t.equal(await all[2]!.poll(10), null);
  t.same(all[2]!.position(), { next: [] });
});

t.test("bad options are typed errors naming the value", async (t) => {
  t.throws(() => sources.sequence({ keys: 0 }), InvalidArgumentError);
  t.throws(() => sources.sequence({ keys: 2, perKey: 1.5 }), { message: /perKey.*1\.5/ });
  t.throws(() => sources.sequence({ keys: 2, ratePerSecond: 0 }), { message: /ratePerSecond.*0/ });
});
