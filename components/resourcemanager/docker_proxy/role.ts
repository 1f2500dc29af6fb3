/**
 * `flotilla start docker-proxy`: the proxy as a process, set up from the config keys the
 * ResourceManager's docker driver reads (cluster.id, docker.*), stopped like a role.
 */
import type { Config, Logger } from "../../core/mod.ts";
import { startDockerProxy } from "./server.ts";

export async function startDockerProxyRole(
  config: Config,
  log: Logger,
): Promise<{ stop(): Promise<void>; outcome?: undefined }> {
  const proxy = await startDockerProxy({
    listenPath: config["docker.proxy-socket"],
    upstreamPath: config["docker.socket"],
    clusterId: config["cluster.id"],
    image: config["docker.taskmanager-image"],
    ...(config["docker.network"] ? { network: config["docker.network"] } : {}),
    log: log.child({ role: "docker-proxy" }),
  });
  return { stop: () => proxy.close() };
}
