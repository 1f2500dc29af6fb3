/**
 * Public API of components/taskmanager: the TaskManager block. Its contract (routes, messages,
 * `TaskManagerApp`) is components/protocol/taskmanager.ts.
 */
export type { TaskManagerApp } from "../protocol/mod.ts";
export { type TaskManagerCore, taskManagerHandlers } from "./handlers.ts";
export { runJobProcess } from "./job_process/child.ts";
export { JobProcesses, type JobProcessOptions } from "./job_process/job_processes.ts";
export {
  type CompiledTaskManagerOptions,
  compileTaskManagerOptions,
  type TaskManagerOptions,
} from "./options.ts";
export { type HeldSlot, SlotTable } from "./slot_table.ts";
export { createTaskManager, type TaskManager } from "./task_manager.ts";
export {
  type CheckpointTrigger,
  type Deployment,
  deploymentKey,
  type RunningTask,
  TaskTable,
} from "./task_table.ts";
