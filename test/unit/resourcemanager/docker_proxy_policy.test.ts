/**
 * The Docker socket proxy's filter without a daemon: which calls pass (and with what forced
 * filters), which are refused with what words, and which create bodies describe a confined
 * TaskManager container of the cluster.
 */
import t from "tap";
import {
  createBodyRefusal,
  judgeCall,
  labelsAllow,
} from "../../../components/resourcemanager/docker_proxy/mod.ts";
import { confinedHostConfig } from "../../../components/resourcemanager/drivers/docker_hardening.ts";
import { DOCKER_LABELS, profile } from "../../../components/resourcemanager/mod.ts";

const policy = { clusterId: "c1", image: "flotilla/taskmanager:latest", network: "net1" };
const call = (method: string, target: string) => {
  const url = new URL(target, "http://docker");
  return judgeCall({ method, path: url.pathname, query: url.searchParams }, policy);
};

t.test("the driver's calls pass; per-container ones name the container to check", async (t) => {
  for (const [method, target] of [
    ["GET", "/_ping"],
    ["GET", "/version"],
    ["POST", "/containers/create?name=flotilla-c1-tm-1"],
    ["POST", "/containers/abc/start"],
    ["POST", "/containers/abc/stop?t=5"],
    ["GET", "/containers/abc/json"],
    ["GET", "/containers/abc/logs?stdout=true&stderr=true&tail=20"],
    ["PUT", "/containers/abc/archive?path=/run/secrets&noOverwriteDirNonDir=true"],
    ["DELETE", "/containers/abc?force=true&v=true"],
  ] as const) {
    const verdict = call(method, target);
    t.equal(verdict.allow, true, `${method} ${target}`);
    if (verdict.allow && target.includes("/abc")) t.equal(verdict.containerId, "abc");
  }
});

t.test("lists and events only ever show the cluster's containers", async (t) => {
  const listed = call(
    "GET",
    `/containers/json?all=true&filters=${encodeURIComponent('{"label":["x=y"]}')}`,
  );
  t.ok(listed.allow);
  if (listed.allow) {
    t.same(JSON.parse(listed.query.get("filters")!), {
      label: ["x=y", `${DOCKER_LABELS.cluster}=c1`],
    });
  }
  const bare = call("GET", "/containers/json");
  t.ok(
    bare.allow && JSON.parse(bare.query.get("filters")!).label[0] === `${DOCKER_LABELS.cluster}=c1`,
    "forced even without filters",
  );
  const events = call("GET", "/events");
  t.ok(events.allow);
  if (events.allow) {
    t.same(JSON.parse(events.query.get("filters")!), {
      label: [`${DOCKER_LABELS.cluster}=c1`],
      type: ["container"],
    });
  }
  t.match(call("GET", "/containers/json?filters=nope"), {
    allow: false,
    status: 400,
    message: /filters must be a JSON object/,
  });
});

t.test("everything else is refused with a 403 that says why", async (t) => {
  for (const [method, target, why] of [
    ["POST", "/containers/abc/exec", /POST \/containers\/abc\/exec is not allowed/],
    [
      "GET",
      "/images/json",
      /GET \/images\/json is not allowed: only the calls of flotilla's docker driver/,
    ],
    ["POST", "/images/create?fromImage=evil", /not allowed/],
    ["POST", "/networks/create", /not allowed/],
    ["GET", "/containers/abc/archive?path=/etc", /GET \/containers\/abc\/archive is not allowed/],
    ["POST", "/containers/abc/attach", /not allowed/],
    ["POST", "/containers/create?name=other-thing", /name must start with flotilla-c1-/],
    ["POST", "/swarm/init", /not allowed/],
    ["GET", "/secrets", /not allowed/],
  ] as const) {
    t.match(
      call(method, target),
      { allow: false, status: 403, message: why },
      `${method} ${target}`,
    );
  }
  t.match(call("GET", "/containers/abc/logs?follow=true"), {
    allow: false,
    status: 400,
    message: /no query parameter 'follow'/,
  });
});

t.test("only the cluster's TaskManagers pass the label check", async (t) => {
  t.ok(labelsAllow({ [DOCKER_LABELS.cluster]: "c1", [DOCKER_LABELS.role]: "taskmanager" }, policy));
  t.notOk(
    labelsAllow({ [DOCKER_LABELS.cluster]: "c2", [DOCKER_LABELS.role]: "taskmanager" }, policy),
  );
  t.notOk(labelsAllow({ [DOCKER_LABELS.cluster]: "c1" }, policy));
  t.notOk(labelsAllow(undefined, policy));
});

const driverBody = () => ({
  Image: policy.image,
  Cmd: ["node"],
  Env: ["A=1"],
  Labels: { [DOCKER_LABELS.cluster]: "c1", [DOCKER_LABELS.role]: "taskmanager" },
  HostConfig: confinedHostConfig(profile(1, 256), ["/run/secrets"], "net1"),
});

t.test("the body the docker driver sends is allowed", async (t) => {
  t.equal(createBodyRefusal(driverBody(), policy), undefined);
});

t.test("create bodies that loosen the confinement are refused, naming what", async (t) => {
  const cases: [string, (b: ReturnType<typeof driverBody>) => void, RegExp][] = [
    ["privileged", (b) => (b.HostConfig.Privileged = true), /Privileged must be false/],
    [
      "added capabilities",
      (b) => (b.HostConfig.CapAdd = ["SYS_ADMIN"]),
      /HostConfig\.CapAdd is not allowed/,
    ],
    ["capabilities kept", (b) => (b.HostConfig.CapDrop = ["NET_RAW"]), /CapDrop must hold "ALL"/],
    ["host binds", (b) => (b.HostConfig.Binds = ["/:/host"]), /HostConfig\.Binds is not allowed/],
    [
      "a bind mount",
      (b) => (b.HostConfig.Mounts = [{ Type: "bind", Source: "/", Target: "/host" }]),
      /anonymous volumes only/,
    ],
    [
      "a named volume",
      (b) => (b.HostConfig.Mounts = [{ Type: "volume", Source: "nats-data", Target: "/x" }]),
      /anonymous volumes only/,
    ],
    [
      "devices",
      (b) => (b.HostConfig.Devices = [{ PathOnHost: "/dev/sda" }]),
      /Devices is not allowed/,
    ],
    ["host pid namespace", (b) => (b.HostConfig.PidMode = "host"), /PidMode is not allowed/],
    [
      "host network",
      (b) => (b.HostConfig.NetworkMode = "host"),
      /NetworkMode must be net1, not "host"/,
    ],
    [
      "a writable root",
      (b) => (b.HostConfig.ReadonlyRootfs = false),
      /ReadonlyRootfs must be true/,
    ],
    ["no pids limit", (b) => (b.HostConfig.PidsLimit = 0), /PidsLimit must be above 0/],
    ["no memory limit", (b) => delete b.HostConfig.Memory, /Memory must be above 0/],
    ["unlimited swap", (b) => (b.HostConfig.MemorySwap = -1), /MemorySwap must equal/],
    [
      "seccomp off",
      (b) => (b.HostConfig.SecurityOpt = ["seccomp=unconfined", "no-new-privileges:true"]),
      /SecurityOpt must be/,
    ],
    [
      "another image",
      (b) => (b.Image = "alpine"),
      /only the TaskManager image flotilla\/taskmanager:latest/,
    ],
    ["a user", (b) => Object.assign(b, { User: "0" }), /may not set User/],
    ["another cluster", (b) => (b.Labels[DOCKER_LABELS.cluster] = "c2"), /must be labelled/],
    ["a restart policy", (b) => (b.HostConfig.RestartPolicy = { Name: "always" }), /RestartPolicy/],
  ];
  for (const [what, change, why] of cases) {
    const body = driverBody();
    change(body);
    t.match(createBodyRefusal(body, policy), why, what);
  }
  t.match(createBodyRefusal([], policy), /must be a JSON object/);
});
