/** The Docker socket proxy: the ResourceManager's only way to the Docker Engine in the compose layouts. */
export { createBodyRefusal } from "./create_body.ts";
export {
  judgeCall,
  labelsAllow,
  type ProxyCall,
  type ProxyPolicyOptions,
  type Verdict,
} from "./policy.ts";
export { type DockerProxy, type DockerProxyOptions, startDockerProxy } from "./server.ts";
