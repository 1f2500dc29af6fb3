/**
 * InputGate barrier alignment: a channel that delivered barrier n is held back until every live
 * channel has; a newer barrier abandons an alignment whose checkpoint was aborted upstream (some
 * channel will never deliver it) and aligns on the newer id; stale barriers are ignored.
 */
import t from "tap";
import { type GateEvent, InputGate } from "../../../components/dataflow/runtime/input_gate.ts";
import { type Frame, FrameKind } from "../../../components/dataflow/types.ts";
import type { ChannelReceiver } from "../../../components/rpc/mod.ts";

const rec = (...values: number[]): Frame => ({ k: FrameKind.RECORDS, v: values });
const barrier = (id: number, final = false): Frame => ({
  k: FrameKind.BARRIER,
  id,
  ...(final ? { final: true } : {}),
});
const watermark = (wm: number): Frame => ({ k: FrameKind.WATERMARK, wm });

/**
 * A channel that hands out its batches one per read, then ends (`ends: true`) or stays open
 * with nothing more to read, like a live upstream that sends nothing.
 */
function scripted(name: string, batches: Frame[][], { ends = false } = {}): ChannelReceiver<Frame> {
  const queue = [...batches];
  return {
    name,
    cancel: async () => {},
    stats: () => ({ received: 0, taken: 0, buffered: 0, credits: 0, dropped: 0, bytes: 0 }),
    [Symbol.asyncIterator]: () => ({
      next: (): Promise<IteratorResult<Frame[]>> => {
        const batch = queue.shift();
        if (batch) return Promise.resolve({ value: batch, done: false });
        if (ends) return Promise.resolve({ value: undefined, done: true });
        return new Promise(() => {});
      },
    }),
  };
}

/** Compact form of an event: `r1`, `b2`, `b2F` (final), `w5`, `eod`, `end`. */
function show(event: GateEvent): string[] {
  switch (event.kind) {
    case "records":
      return event.values.map((v) => `r${v}`);
    case "barrier":
      return [`b${event.id}${event.final ? "F" : ""}`];
    case "watermark":
      return [`w${event.watermark}`];
    case "end-of-data":
      return ["eod"];
    case "end":
      return ["end"];
  }
}

const STALLED = Symbol("stalled");

/**
 * Events until `end`, or until the gate stalls. The scripted channels resolve reads through
 * microtasks only, so a read still pending once a macrotask runs can never complete.
 */
async function drain(gate: InputGate): Promise<string[]> {
  const seen: string[] = [];
  for (;;) {
    const event = await Promise.race([
      gate.next(),
      new Promise<typeof STALLED>((resolve) => setImmediate(() => resolve(STALLED))),
    ]);
    if (event === STALLED) return [...seen, "stalled"];
    seen.push(...show(event));
    if (event.kind === "end") return seen;
  }
}

t.test(
  "aligned barrier: a blocked channel is held back until every channel delivered it",
  async (t) => {
    const gate = new InputGate([
      scripted("a", [[rec(1), barrier(1), rec(2)]], { ends: true }),
      scripted("b", [[rec(10)], [rec(11), barrier(1), rec(12)]], { ends: true }),
    ]);
    t.same(await drain(gate), ["r1", "r10", "r11", "b1", "r2", "r12", "wInfinity", "eod", "end"]);
  },
);

t.test(
  "a newer barrier during alignment aligns on it; nothing is lost or duplicated",
  async (t) => {
    // Checkpoint 1 was aborted upstream of b and c: only a delivers barrier 1.
    const gate = new InputGate([
      scripted("a", [
        [rec(1), barrier(1), rec(2), rec(3)],
        [barrier(2), rec(4)],
      ]),
      scripted("b", [[rec(10), barrier(2), rec(11)]]),
      scripted("c", [[rec(20)], [rec(21), barrier(2), rec(22)]]),
    ]);
    const events = await drain(gate);
    t.same(events, [
      "r1",
      "r10",
      "r20",
      // b's barrier 2 abandoned the alignment of 1: a's records behind barrier 1 flow again.
      "r2",
      "r3",
      "r21",
      // Checkpoint 2 completes only once c, the last channel, delivered its barrier.
      "b2",
      "r4",
      "r11",
      "r22",
      "stalled",
    ]);
    t.notOk(events.includes("b1"), "the abandoned checkpoint is never emitted");
  },
);

t.test("a newer barrier alone on the last live channel completes at once", async (t) => {
  const gate = new InputGate([
    scripted(
      "a",
      [
        [barrier(1), rec(1)],
        [barrier(2, true), rec(2)],
      ],
      { ends: true },
    ),
    scripted("b", [[rec(10), barrier(2, true), rec(11)]], { ends: true }),
  ]);
  t.same(await drain(gate), ["r10", "r1", "b2F", "r2", "r11", "wInfinity", "eod", "end"]);
});

t.test("a stale barrier during a newer alignment is ignored", async (t) => {
  const gate = new InputGate([
    scripted("a", [[rec(1), barrier(2), rec(2)]]),
    scripted("b", [[rec(10), barrier(1), rec(11), barrier(2), rec(12)]]),
  ]);
  t.same(await drain(gate), ["r1", "r10", "r11", "b2", "r2", "r12", "stalled"]);
});

t.test("a stale barrier after the newer checkpoint completed is ignored", async (t) => {
  // c's upstream delivers barrier 1 late, after checkpoint 2 aligned without it.
  const gate = new InputGate([
    scripted("a", [[barrier(2)], [rec(1), barrier(3), rec(2)]]),
    scripted("b", [[barrier(2)], [rec(10), barrier(3), rec(11)]]),
    scripted("c", [[barrier(2)], [barrier(1), rec(20), barrier(3), rec(21)]]),
  ]);
  t.same(await drain(gate), ["b2", "r1", "r10", "r20", "b3", "r2", "r11", "r21", "stalled"]);
});

t.test("a repeated barrier of a completed checkpoint does not start a new alignment", async (t) => {
  const gate = new InputGate([
    scripted("a", [[barrier(1), rec(1), barrier(1), rec(2)]], { ends: true }),
    scripted("b", [[barrier(1)]], { ends: true }),
  ]);
  t.same(await drain(gate), ["b1", "r1", "r2", "wInfinity", "eod", "end"]);
});

t.test("end of partition during alignment counts the ended channel as aligned", async (t) => {
  const gate = new InputGate([
    scripted("a", [[rec(1), barrier(1), rec(2)]], { ends: true }),
    scripted("b", [[rec(10)]], { ends: true }),
  ]);
  t.same(await drain(gate), ["r1", "r10", "b1", "r2", "wInfinity", "eod", "end"]);
});

t.test("end of partition after an abandoned alignment completes the newer one", async (t) => {
  const gate = new InputGate([
    scripted(
      "a",
      [
        [barrier(1), rec(1)],
        [barrier(2), rec(2)],
      ],
      { ends: true },
    ),
    scripted("b", [[rec(10), barrier(2), rec(11)]], { ends: true }),
    scripted("c", [[rec(20)]], { ends: true }),
  ]);
  t.same(await drain(gate), ["r10", "r20", "r1", "b2", "r2", "r11", "wInfinity", "eod", "end"]);
});

t.test(
  "watermarks still advance to the minimum across channels through an abandoned alignment",
  async (t) => {
    const gate = new InputGate([
      scripted("a", [[watermark(5), barrier(1), watermark(9)]], { ends: true }),
      scripted("b", [[watermark(7), barrier(2), watermark(8)]], { ends: true }),
    ]);
    t.same(await drain(gate), ["w5", "w7", "b2", "w8", "wInfinity", "eod", "end"]);
  },
);
