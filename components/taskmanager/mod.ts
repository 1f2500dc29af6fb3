/** Public API of components/taskmanager: the TaskManager block and its contract. */
export { SlotTable } from "./slot_table.ts";
export {
  createTaskManager,
  type TaskManager,
  type TaskManagerApp,
  type TaskManagerOptions,
} from "./task_manager.ts";
export {
  allocateSchema,
  freeSlotSchema,
  jobAttemptSchema,
  type SlotReport,
  SlotState,
  type TaskDescriptor,
  taskDescriptorSchema,
  triggerSchema,
} from "./types.ts";
