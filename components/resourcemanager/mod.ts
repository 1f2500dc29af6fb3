/**
 * Public API of components/resourcemanager: the RM block, its SlotManager, drivers and profile
 * arithmetic. Its wire contract is components/protocol/resourcemanager.ts.
 */
export {
  type CompiledResourceManagerConfig,
  compileResourceManagerConfig,
  type ResourceManagerConfig,
  resourceManagerConfigFrom,
} from "./config.ts";
export { startDockerProxyRole } from "./docker_proxy/role.ts";
export {
  type ContainerExit,
  DOCKER_LABELS,
  type DockerDriver,
  type DockerDriverOptions,
  dockerDriver,
  type TaskManagerContainer,
} from "./drivers/docker.ts";
export {
  type DockerEngine,
  DockerEngineError,
  type DockerEngineOptions,
  dockerEngine,
} from "./drivers/docker_engine.ts";
export {
  type ProcessDriver,
  type ProcessDriverOptions,
  processDriver,
  type RunningTaskManager,
} from "./drivers/process.ts";
export { staticDriver } from "./drivers/static.ts";
export type { ContainerFile } from "./drivers/tar.ts";
export { type ResourceManagerCore, resourceManagerHandlers } from "./handlers.ts";
export {
  ANY_PROFILE,
  add,
  compareProfiles,
  covers,
  describeProfile,
  equalProfiles,
  fits,
  isAny,
  profile,
  profileKey,
  subtract,
  sum,
} from "./profile.ts";
export {
  createResourceManager,
  type ResourceManager,
  type ResourceManagerOptions,
} from "./resource_manager.ts";
export { SlotManager, type SlotManagerOptions } from "./slot_manager.ts";
export type { AffectedJob, ResourceDriver, SlotManagerAction } from "./types.ts";
