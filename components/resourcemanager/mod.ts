/** Public API of components/resourcemanager: the RM block, its SlotManager, drivers and contracts. */
export {
  type CompiledResourceManagerConfig,
  compileResourceManagerConfig,
  type ResourceManagerConfig,
  resourceManagerConfigFrom,
} from "./config.ts";
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
export {
  type JobManagerHandlers,
  type JobManagerRpc,
  jobManagerRoutes,
  RM_FENCING_SCOPE,
  type TaskManagerHandlers,
  type TaskManagerRpc,
  taskManagerRoutes,
} from "./peer_routes.ts";
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
export { type ResourceManagerApp, resourceManagerRoutes } from "./routes.ts";
export {
  allocateSlotRequestSchema,
  heartbeatReportSchema,
  registrationSchema,
  requirementsDeclarationSchema,
  resourceProfileSchema,
  resourceRequirementSchema,
  resourcesUnavailableSchema,
  slotReportSchema,
  taskManagerHeartbeatSchema,
  taskManagerLostSchema,
} from "./schemas.ts";
export { SlotManager, type SlotManagerOptions } from "./slot_manager.ts";
export {
  type AffectedJob,
  type AllocateSlotReply,
  type AllocateSlotRequest,
  type HeartbeatReport,
  type JobRequirementsInfo,
  type RegistrationReply,
  type RequirementsDeclaration,
  type ResourceDriver,
  type ResourceOverview,
  type ResourceProfile,
  type ResourceRequirement,
  type ResourcesUnavailable,
  type SlotInfo,
  type SlotManagerAction,
  type SlotReport,
  SlotState,
  type TaskManagerHeartbeat,
  type TaskManagerInfo,
  type TaskManagerLost,
  type TaskManagerRegistration,
} from "./types.ts";
