/**
 * A TaskManager's fenced routes remember a token only from a call that is well-formed: a call
 * with an absurd token and a bad body is refused for its body, and the real leader's next call
 * (with a lower token) is still taken. Without a verifier (blocks no stranger reaches), this
 * ordering is what keeps one malformed call from fencing the ResourceManager out for good.
 */
import t from "tap";
import {
  ErrorCode,
  newAllocationId,
  newJobId,
  slotId,
  type TaskManagerId,
} from "../../../components/core/mod.ts";
import {
  RM_FENCING_SCOPE,
  type TaskManagerSlotHandlers,
  taskManagerSlotRoutes,
} from "../../../components/protocol/mod.ts";
import { FencingTokens, fencingHeaders } from "../../../components/rpc/mod.ts";

const allocated: string[] = [];
const handlers: TaskManagerSlotHandlers = {
  heartbeat: () => ({ tmId: "tm-a" as TaskManagerId, slots: [] }),
  allocate: (slot, request) => {
    allocated.push(`${slot}:${request.jobId}`);
    return { slotId: slot, allocationId: request.allocationId };
  },
};
const tokens = new FencingTokens();
const app = taskManagerSlotRoutes(handlers, { fencingTokens: tokens });
const slot = slotId("tm-a" as TaskManagerId, 0);
const allocate = (token: number, body: unknown) =>
  app.request(`/slots/${slot}/allocate`, {
    method: "POST",
    headers: { ...fencingHeaders(token), "content-type": "application/json" },
    body: JSON.stringify(body),
  });
const good = () => ({
  jobId: newJobId(),
  allocationId: newAllocationId(),
  jmSubject: "t.jm.1",
  profile: { cpu: 1, memoryMb: 1024, extended: {} },
});

t.test("a malformed call with an absurd token does not move the fencing token", async (t) => {
  t.equal((await allocate(7, good())).status, 200, "the leader's call with token 7");
  const bad = await allocate(Number.MAX_SAFE_INTEGER, { ...good(), profile: "everything" });
  t.equal(bad.status, 400, "refused for its body");
  t.match(await bad.json(), { code: ErrorCode.BAD_REQUEST, errors: [/profile/] });
  t.equal(tokens.current(RM_FENCING_SCOPE), 7, "the absurd token was not remembered");
  t.equal((await allocate(7, good())).status, 200, "the leader is still followed");
  t.equal(allocated.length, 2);
  const stale = await allocate(6, good());
  t.equal(stale.status, 409, "an older token is still refused (the fencing itself works)");
});
