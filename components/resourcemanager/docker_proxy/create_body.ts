/**
 * The Docker socket proxy's check of a `POST /containers/create` body: an allowlist of what the
 * docker driver sends, so a container made through the proxy is a confined TaskManager of this
 * cluster (its image, its network, no capabilities, read-only, bounded) and nothing else:
 * privileged mode, added capabilities, host mounts, devices, host namespaces are all refused.
 */
import { DOCKER_LABELS } from "../drivers/docker.ts";
import type { ProxyPolicyOptions } from "./policy.ts";

const TOP_LEVEL = new Set(["Image", "Cmd", "Env", "Labels", "HostConfig"]);
const HOST_CONFIG = new Set([
  "NanoCpus",
  "Memory",
  "MemorySwap",
  "PidsLimit",
  "CapDrop",
  "SecurityOpt",
  "Privileged",
  "ReadonlyRootfs",
  "Tmpfs",
  "Mounts",
  "RestartPolicy",
  "NetworkMode",
]);

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

const isStringList = (v: unknown): v is string[] =>
  Array.isArray(v) && v.every((s) => typeof s === "string");

/** Why `body` may not be created, or undefined when it may. */
export function createBodyRefusal(
  body: unknown,
  { clusterId, image, network }: ProxyPolicyOptions,
): string | undefined {
  if (!isRecord(body)) return "the create body must be a JSON object";
  for (const key of Object.keys(body)) {
    if (!TOP_LEVEL.has(key)) return `the create body may not set ${key}`;
  }
  if (body.Image !== image) {
    return `only the TaskManager image ${image} may be run, not ${JSON.stringify(body.Image)}`;
  }
  if (body.Cmd !== undefined && !isStringList(body.Cmd)) return "Cmd must be a list of strings";
  if (body.Env !== undefined && !isStringList(body.Env)) return "Env must be a list of strings";
  const labels = body.Labels;
  if (
    !isRecord(labels) ||
    labels[DOCKER_LABELS.cluster] !== clusterId ||
    labels[DOCKER_LABELS.role] !== "taskmanager"
  ) {
    return `the container must be labelled ${DOCKER_LABELS.cluster}=${clusterId} and ${DOCKER_LABELS.role}=taskmanager`;
  }
  const host = body.HostConfig;
  if (!isRecord(host)) return "HostConfig is required (the container's limits and confinement)";
  for (const key of Object.keys(host)) {
    if (!HOST_CONFIG.has(key)) return `HostConfig.${key} is not allowed`;
  }
  if (host.Privileged !== undefined && host.Privileged !== false) {
    return "HostConfig.Privileged must be false";
  }
  if (host.ReadonlyRootfs !== true) return "HostConfig.ReadonlyRootfs must be true";
  if (!isStringList(host.CapDrop) || !host.CapDrop.includes("ALL")) {
    return 'HostConfig.CapDrop must hold "ALL"';
  }
  if (
    !isStringList(host.SecurityOpt) ||
    host.SecurityOpt.some((o) => o !== "no-new-privileges:true")
  ) {
    return 'HostConfig.SecurityOpt must be ["no-new-privileges:true"] (no seccomp or AppArmor changes)';
  }
  if (!host.SecurityOpt.includes("no-new-privileges:true")) {
    return 'HostConfig.SecurityOpt must hold "no-new-privileges:true"';
  }
  for (const limit of ["PidsLimit", "Memory"] as const) {
    const value = host[limit];
    if (typeof value !== "number" || !(value > 0)) return `HostConfig.${limit} must be above 0`;
  }
  if (host.MemorySwap !== undefined && host.MemorySwap !== host.Memory) {
    return "HostConfig.MemorySwap must equal HostConfig.Memory (no swap beyond the limit)";
  }
  const mounts = host.Mounts ?? [];
  if (!Array.isArray(mounts)) return "HostConfig.Mounts must be a list";
  for (const mount of mounts) {
    if (
      !isRecord(mount) ||
      mount.Type !== "volume" ||
      mount.Source ||
      Object.keys(mount).some((k) => k !== "Type" && k !== "Target")
    ) {
      return `HostConfig.Mounts may hold anonymous volumes only ({ Type: "volume", Target }), not ${JSON.stringify(mount)}`;
    }
  }
  const tmpfs = host.Tmpfs ?? {};
  if (
    !isRecord(tmpfs) ||
    Object.values(tmpfs).some((o) => typeof o !== "string" || !/\bnosuid\b/.test(o))
  ) {
    return "HostConfig.Tmpfs options must be strings with nosuid";
  }
  const wanted = network || "default";
  const mode = host.NetworkMode ?? "default";
  if (mode !== wanted && !(wanted === "default" && mode === "bridge")) {
    return `HostConfig.NetworkMode must be ${wanted}, not ${JSON.stringify(mode)}`;
  }
  const restart = host.RestartPolicy;
  if (restart !== undefined && (!isRecord(restart) || restart.Name !== "no")) {
    return 'HostConfig.RestartPolicy must be { Name: "no" }';
  }
  return undefined;
}
